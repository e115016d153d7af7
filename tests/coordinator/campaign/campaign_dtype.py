#!/usr/bin/python3
"""The CPU-visible half of the GPU path (docs/runtime.md: placement, dtypes), on e2e.yaml's fixture model:

  campaign_dtype.py bf16 WORK     model fix_a in bf16 through every job kind (decompose, train_expert,
                                  classifier_expert, fewshot_search, evaluate): every job finishes;
                                  the log names the rank's host, device (cpu) and group, and run.h5
                                  records them; then the model's log-probs in bf16 against fp32 on the
                                  same ids: |bf16 - fp32| <= 0.02 + 0.01 |fp32| per token (bf16 keeps
                                  8 bits of mantissa: ~0.4 % relative per rounding)
  campaign_dtype.py placement WORK
                                  mpirun -np 3 with T2_TEST_HOSTS=a*2,b*1 (two "nodes"): rank 0 logs every
                                  rank's host, device cpu and group; --device cuda on this CPU-only t2
                                  exits 2 with a clear message, on one process and under mpirun
  campaign_dtype.py mixed WORK    a campaign of two model sizes (fix_a at tp 2, fix_b at tp 1) under
                                  mpirun -np 5 with T2_TEST_HOSTS=a*3,b*2: one coordinator, a TP-2
                                  group on node a and two TP-1 groups on node b; each model is
                                  decomposed by groups of its own degree (fix_a: 2 SVD shards, fix_b:
                                  1), trains an expert and is evaluated; every job finishes
Env: T2_BIN, T2_SOURCE_DIR, T2_DATA_DIR (missing data: SKIPPED).
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from campaign_e2e import CAMPAIGN, MPIRUN, PY, SRC, T2, check, data_dir, env_for  # noqa: E402

ONE_MODEL = ["~models.fix_b"]
TOL_ABS, TOL_REL = 0.02, 0.01


def fixture(work):
    dd = data_dir()
    d = os.path.join(work, "models", "a")
    if not os.path.exists(os.path.join(d, "config.json")):
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([PY, os.path.join(SRC, "tests/workers/fixtures/make_fixture.py"), d, "--family", "llama3",
                        "--seed", "1", "--vocab", "128256", "--hidden", "32", "--intermediate", "64", "--layers", "2",
                        "--heads", "4", "--kv-heads", "2", "--tie"], check=True, timeout=120)
        for f in ("tokenizer.model", "tokenizer_config.json"):
            shutil.copy(os.path.join(dd, "tokenizers/llama3", f), d)
    return d


def logprobs(model, dtype):
    args = [T2, "logprobs", model, "--dtype", dtype, "--device", "cpu", "--json"]
    for i in range(4):
        prompt = ",".join(str((97 * i + 31 * j + 5) % 128000) for j in range(6 + i))
        cont = ",".join(str((13 * i + 71 * j + 9) % 128000) for j in range(5))
        args += ["--prompt-ids", prompt, "--continuation-ids", cont]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"t2 logprobs --dtype {dtype}", p)
    return [r["logprobs"] for r in json.loads(p.stdout)["results"]]


def bf16(work):
    model = fixture(work)
    run = os.path.join(work, "bf16")
    shutil.rmtree(run, ignore_errors=True)
    p = subprocess.run([T2, "run", CAMPAIGN, "--no-progress", *ONE_MODEL, "models.fix_a.dtype=bf16"],
                       env=env_for(work, run), capture_output=True, text=True, timeout=1200)
    check(p.returncode == 0, f"bf16 campaign exit {p.returncode}", p)
    summary = [l for l in p.stderr.splitlines() if l.startswith("campaign e2e:")]
    check(summary and summary[0].startswith("campaign e2e: 14 done;"), f"every job of fix_a in bf16: {summary}", p)
    check("placement: rank 0: host" in p.stderr and "device cpu" in p.stderr, "the log names rank 0's device", p)
    import h5py
    with h5py.File(os.path.join(run, "run.h5"), "r") as f:
        lines = [x.decode() if isinstance(x, bytes) else x for x in f["placement"][()]]
    check(len(lines) == 2 and "device cpu" in lines[1] and "coordinator+worker" in lines[1],
          f"run.h5 records the placement: {lines}")
    print("bf16 campaign:", summary[0])
    print("run.h5 placement:", lines)

    a, b = logprobs(model, "float32"), logprobs(model, "bfloat16")
    worst_abs = worst_rel = 0.0
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            worst_abs, worst_rel = max(worst_abs, abs(x - y)), max(worst_rel, abs(x - y) / max(abs(x), 1e-9))
            check(abs(x - y) <= TOL_ABS + TOL_REL * abs(x), f"bf16 log-prob {y} vs fp32 {x}")
    n = sum(len(r) for r in a)
    print(f"bf16 vs fp32 log-probs: {n} tokens, max |diff| {worst_abs:.4f} nats, max relative {worst_rel:.4%} "
          f"(tolerance {TOL_ABS} + {TOL_REL:.0%} of |fp32|)")

def placement(work):
    fixture(work)
    run = os.path.join(work, "placement")
    shutil.rmtree(run, ignore_errors=True)
    small = [*ONE_MODEL, "~experiments.experts", "~experiments.cls_expert", "~experiments.fewshot",
             "~experiments.eval_fewshot", "experiments.eval.methods=[base]", "experiments.eval.tasks=[gsm8k]",
             "tasks.gsm8k.limit=2"]
    env = env_for(work, run)
    env["T2_TEST_HOSTS"] = "a*2,b*1"
    p = subprocess.run([*MPIRUN, "-np", "3", T2, "run", CAMPAIGN, "--no-progress", *small], env=env,
                       capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, f"mpirun -np 3 exit {p.returncode}", p)
    for want in ("placement: rank 0: host a (node 0, local 0), coordinator, device cpu",
                 "placement: rank 1: host a (node 0, local 1), worker of group 0 (tp_rank 0), device cpu",
                 "placement: rank 2: host b (node 1, local 0), worker of group 1 (tp_rank 0), device cpu"):
        check(want in p.stderr, "the log says: " + want, p)
    print("\n".join(l for l in p.stderr.splitlines() if "placement:" in l))

    # CUDA asked for on a t2 without CUDA: exit 2, one clear message, on one process and under mpirun
    for cmd in ([T2, "run", CAMPAIGN, "--no-progress", *small, "--device", "cuda"],
                [*MPIRUN, "-np", "2", T2, "run", CAMPAIGN, "--no-progress", *small, "device=cuda"]):
        p = subprocess.run(cmd, env=env_for(work, run + "-cuda"), capture_output=True, text=True, timeout=300)
        check(p.returncode == 2, f"{' '.join(cmd[:4])}: --device cuda without CUDA should exit 2, got {p.returncode}",
              p)
        check("device: cuda was asked for, but this t2 was built against a LibTorch without CUDA" in p.stderr,
              "the message says why", p)
    p = subprocess.run([T2, "logprobs", os.path.join(work, "models", "a"), "--device", "cuda", "--prompt-ids", "1,2",
                        "--continuation-ids", "3"], capture_output=True, text=True, timeout=120)
    check(p.returncode == 2 and "without CUDA" in p.stderr, f"t2 logprobs --device cuda exit {p.returncode}", p)
    print("--device cuda without CUDA: exit 2 with the reason")


def mixed(work):
    model = fixture(work)
    run = os.path.join(work, "mixed")
    shutil.rmtree(run, ignore_errors=True)
    # decompose, one REINFORCE step of an expert and base/svf evaluations per model: SVD shards, TP
    # gradients and adapted evaluation on each model's own groups
    args = ["models.fix_b.path=" + model, "models.fix_a.tp=2", "experiments.experts.tasks=[gsm8k]",
            "experiments.experts.steps=1", "~experiments.cls_expert",
            "~experiments.fewshot", "~experiments.eval_fewshot", "experiments.eval.methods=[base,svf]",
            "experiments.eval.tasks=[gsm8k]", "tasks.gsm8k.limit=2"]
    env = env_for(work, run)
    env["T2_TEST_HOSTS"] = "a*3,b*2"
    p = subprocess.run([*MPIRUN, "-np", "5", T2, "run", CAMPAIGN, "--no-progress", *args], env=env,
                       capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, f"mpirun -np 5 exit {p.returncode}", p)
    for want in ("1 group(s) x tp 2 + 2 group(s) x tp 1",
                 "placement: rank 0: host a (node 0, local 0), coordinator, device cpu",
                 "placement: rank 1: host a (node 0, local 1), worker of group 0 (tp_rank 0), device cpu",
                 "placement: rank 2: host a (node 0, local 2), worker of group 0 (tp_rank 1), device cpu",
                 "placement: rank 3: host b (node 1, local 0), worker of group 1 (tp_rank 0), device cpu",
                 "placement: rank 4: host b (node 1, local 1), worker of group 2 (tp_rank 0), device cpu"):
        check(want in p.stderr, "the log says: " + want, p)
    summary = [l for l in p.stderr.splitlines() if l.startswith("campaign e2e:")]
    check(summary and summary[0].startswith("campaign e2e: 8 done;"),
          f"decompose, expert and evaluations of both models: {summary}", p)
    # each model's SVD shards come from groups of its own degree: fix_a at tp 2, fix_b at tp 1 (never the
    # largest tp for every model)
    svd = lambda m: sorted(f for f in os.listdir(os.path.join(run, "svd", m)) if f.endswith(".h5"))
    check(svd("fix_a") == ["svd-tp0of2.h5", "svd-tp1of2.h5"], f"fix_a decomposed at tp 2: {svd('fix_a')}")
    check(svd("fix_b") == ["svd-tp0of1.h5"], f"fix_b decomposed at tp 1: {svd('fix_b')}")
    print("\n".join(l for l in p.stderr.splitlines() if "placement:" in l))
    print(summary[0])
    print("SVD shards: fix_a", svd("fix_a"), "fix_b", svd("fix_b"))


if __name__ == "__main__":
    mode, work = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    {"bf16": bf16, "placement": placement, "mixed": mixed}[mode](work)
