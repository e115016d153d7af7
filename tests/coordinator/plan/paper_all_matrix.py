#!/usr/bin/python3
"""examples/paper-all.yaml expands to the paper's whole matrix: `t2 run --dry-run --json` has a job for
every row and column of Tables 1, 2, 4, 5, 7 and 9 (METHOD.md §8), the plan text shows the new job
kinds, and `t2 plan` prices every model (its config.json files are written here with the real models'
shapes, so no weights are needed).

  paper_all_matrix.py WORK     env: T2_BIN, T2_SOURCE_DIR, T2_DATA_DIR (else ../shared beside the sources)
"""
import json
import os
import shutil
import subprocess
import sys

SRC = os.environ.get("T2_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
T2 = os.environ.get("T2_BIN", os.path.join(SRC, "build/bin/t2"))
CAMPAIGN = os.path.join(SRC, "examples/paper-all.yaml")

CONFIGS = {  # the Hugging Face config.json fields the runtime's parser reads
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=8, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=8192),
    "mistral-7b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=8, vocab_size=32768, rope_theta=1000000.0, max_position_embeddings=32768),
    "llama3-70b": dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
                       num_key_value_heads=8, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=8192),
}


def fail(what, out=""):
    print("FAILED:", what)
    print(out[-6000:])
    sys.exit(1)


def main():
    work = os.path.abspath(sys.argv[1])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.environ.get("T2_DATA_DIR") or os.path.join(SRC, "..", "shared")
    if not os.path.isdir(os.path.join(data, "data")):
        print("[  SKIPPED ] T2_DATA_DIR / ../shared not found")
        return
    env = dict(os.environ, T2_DATA_DIR=os.path.abspath(data))
    for name, cfg in CONFIGS.items():
        d = os.path.join(work, name)
        os.makedirs(d)
        full = dict(architectures=["LlamaForCausalLM" if "llama" in name else "MistralForCausalLM"],
                    model_type="llama" if "llama" in name else "mistral", hidden_act="silu", rms_norm_eps=1e-5,
                    torch_dtype="bfloat16", tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, **cfg)
        json.dump(full, open(os.path.join(d, "config.json"), "w"))
        env[{"llama3-8b": "LLAMA3_8B", "mistral-7b": "MISTRAL_7B", "llama3-70b": "LLAMA3_70B"}[name]] = d

    p = subprocess.run([T2, "run", "--dry-run", "--json", CAMPAIGN], env=env, capture_output=True, text=True,
                       timeout=300, cwd=work)
    if p.returncode != 0:
        fail(f"t2 run --dry-run --json exit {p.returncode}", p.stderr)
    plan = json.loads(p.stdout)
    ids = {j["id"] for j in plan["jobs"]}
    jobs = {j["id"]: j for j in plan["jobs"]}
    missing = []

    def need(job_id):
        if job_id not in ids:
            missing.append(job_id)

    def one(prefix):
        """The job whose id is `prefix` or starts with `prefix/` (a non-default setting's suffix)."""
        found = [i for i in ids if i == prefix or i.startswith(prefix + "/")]
        if len(found) != 1:
            missing.append(f"{prefix} ({len(found)} jobs)")
            return {}
        return jobs[found[0]]

    s = "seed42"
    train, unseen = ["gsm8k", "mbpp", "arc_easy"], ["math", "humaneval", "arc_challenge"]
    models = ["llama3-8b", "mistral-7b", "llama3-70b"]
    # Table 1: base, LoRA, SVF on the training tasks, all three models
    for m in models:
        for t in train:
            # the 70B's experts carry "experts_70b.layers=0-39"; its LoRA trains under TP 8
            for meth in ("base", "lora", "svf"):
                one(f"evaluate/{m}/{t}/{meth}/{s}")
            need(f"train_peft/{m}/{t}/lora/{s}")
            if m != "llama3-70b":
                need(f"train_expert/{m}/{t}/{s}")
    # Table 2: base, prompt on every unseen task; cls and few-shot for 8B and Mistral; LoRA where a
    # valid split exists (ARC-Challenge), chosen among the training-task adapters
    for m in models:
        for t in unseen:
            need(f"evaluate/{m}/{t}/base/{s}")
            one(f"evaluate/{m}/{t}/t2_prompt/{s}")
            if m != "llama3-70b":
                need(f"evaluate/{m}/{t}/t2_cls/{s}")
                need(f"evaluate/{m}/{t}/t2_fewshot/{s}")
        if m == "llama3-70b":
            continue
        need(f"evaluate/{m}/arc_challenge/lora/{s}")
        cands = jobs.get(f"evaluate/{m}/arc_challenge/lora/{s}", {}).get("params", {}).get("adapter_candidates")
        if cands != [f"train_peft/{m}/{t}/lora/{s}" for t in train]:
            missing.append(f"evaluate/{m}/arc_challenge/lora/{s}: candidates {cands}")
    # the 70B experts adapt half of its layers, and its decomposition factors only those
    if jobs.get(f"train_expert/llama3-70b/gsm8k/{s}/layers=0-39", {}).get("params", {}).get("layers") != "0-39":
        missing.append("train_expert/llama3-70b/gsm8k layers 0-39")
    if jobs.get("decompose/llama3-70b", {}).get("params", {}).get("layers") != "0-39":
        missing.append("decompose/llama3-70b layers 0-39")
    # Table 4: every row on GSM8K and MATH, on Llama-3-8B, from the GSM8K expert / adapter
    rows = {"svf_pg_mlp": f"train_expert/llama3-8b/gsm8k/{s}",
            "svf_pg_attn": f"train_expert/llama3-8b/gsm8k/{s}/modules=attn",
            "svf_pg_both": f"train_expert/llama3-8b/gsm8k/{s}/modules=all",
            "svf_nt_attn": f"train_expert/llama3-8b/gsm8k/{s}/modules=attn,objective=next_token",
            "lora_pg_attn": f"train_peft/llama3-8b/gsm8k/lora/{s}/objective=policy_gradient",
            "lora_nt_attn": f"train_peft/llama3-8b/gsm8k/lora/{s}",
            "lora_nt_both": f"train_peft/llama3-8b/gsm8k/lora/{s}/modules=all"}
    for row, trained in rows.items():
        need(trained)
        for t in ("gsm8k", "math"):
            j = one(f"evaluate/llama3-8b/{t}/{row}/{s}")
            if j and trained not in j["deps"]:
                missing.append(f"Table 4 row {row} on {t} does not evaluate {trained}: {j['deps']}")
    if jobs.get("decompose/llama3-8b", {}).get("params", {}).get("modules") != "all":
        missing.append("decompose/llama3-8b should factor MLP and attention for the module ablations")
    # Tables 5 and 9: Llama-3-8B's experts on Mistral-7B, ordered and shuffled; cross-model few-shot
    for t in train:
        for o in ("ordered", "shuffled"):
            need(f"evaluate/mistral-7b/{t}/svf_transfer_{o}/{s}/sigma_order={o}")
    for t in unseen:
        for o in ("ordered", "shuffled"):
            need(f"evaluate/mistral-7b/{t}/svf_transfer_{o}/{s}")
        xs = [i for i in ids if i.startswith(f"evaluate/mistral-7b/{t}/t2_fewshot_transfer/{s}")]
        if not xs:
            missing.append(f"evaluate/mistral-7b/{t}/t2_fewshot_transfer")
        for i in xs:
            search = [d for d in jobs[i]["deps"] if d.startswith("fewshot_search/")]
            if not search or not all(e.startswith("train_expert/llama3-8b/")
                                     for e in jobs[search[0]]["params"]["experts"]):
                missing.append(f"{i}: the cross-model search does not mix Llama-3-8B's experts")
    # Table 7: IA3 and DoRA on Llama-3-8B
    for meth in ("ia3", "dora"):
        for t in train + ["arc_challenge"]:
            need(f"evaluate/llama3-8b/{t}/{meth}/{s}")
        for t in train:
            need(f"train_peft/llama3-8b/{t}/{meth}/{s}")
    if missing:
        fail("missing from the expansion:\n  " + "\n  ".join(sorted(missing)[:40]))
    counts = plan["counts"]
    print(f"paper-all: {plan['total_jobs']} jobs, {counts}")

    p = subprocess.run([T2, "run", "--dry-run", CAMPAIGN], env=env, capture_output=True, text=True, timeout=300,
                       cwd=work)
    if p.returncode != 0 or "train_peft" not in p.stdout.splitlines()[-1]:
        fail("t2 run --dry-run does not summarise the train_peft jobs", p.stdout + p.stderr)
    print(p.stdout.splitlines()[-1])

    p = subprocess.run([T2, "plan", CAMPAIGN], env=env, capture_output=True, text=True, timeout=300, cwd=work)
    # exit 0: every phase and work item of every model fits its GPUs (the campaign's micro_batch and
    # the 70B's 40 adapted layers are what make the gradient items fit 80 GB)
    if p.returncode != 0 or any(m not in p.stdout for m in models) or "DOES NOT FIT" in p.stdout:
        fail(f"t2 plan examples/paper-all.yaml exit {p.returncode}", p.stdout + p.stderr)
    if "modules mlp in 40 of 80 layers" not in p.stdout:
        fail("t2 plan does not size the 70B's factors for its 40 adapted layers", p.stdout)
    print(p.stdout)


if __name__ == "__main__":
    main()
