#!/usr/bin/python3
"""A user task (kind: user) through a whole campaign: `t2 quickstart-init` builds the tiny model, the
arith word problems are rewritten as a user JSONL task (our own field names: id, problem, target),
then `t2 run` trains an SVF expert on it and evaluates base and svf. Read back with h5py: run.h5 holds
the task as resolved (kind user, the shared user-task keys with their defaults), the evaluations
scored every test example of the JSONL (ids, prompts built from the template, the system prompt),
and every score is the numeric scorer's verdict (the last number of the response equals the target,
recomputed here).

  user_task_campaign.py WORK      env: T2_BIN, T2_SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys

import h5py

SRC = os.environ.get("T2_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
T2 = os.environ.get("T2_BIN", os.path.join(SRC, "build/bin/t2"))
GSM8K_SYSTEM = ("Below is an instruction that describes a task. Write a response that appropriately completes "
                "the request.\n\n")
N_TEST = 40


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def fail(msg, proc=None):
    if proc is not None:
        msg += f"\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    sys.exit("FAILED: " + msg)


def last_number(s):
    m = re.findall(r"-?\d[\d,]*(?:\.\d+)?", s)
    return float(m[-1].replace(",", "")) if m else None


def to_user(src, dst, prefix):
    """gsm8k-format arith records -> our own user-task fields."""
    out = []
    with open(src) as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            out.append({"id": f"{prefix}{i}", "problem": r["question"],
                        "target": int(r["answer"].split("####")[-1].strip().replace(",", ""))})
    with open(dst, "w") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    return out


def main():
    work = os.path.abspath(sys.argv[1])
    os.makedirs(work, exist_ok=True)
    assets = os.path.join(work, "assets")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if not os.path.exists(os.path.join(assets, "quickstart.json")):
        shutil.rmtree(assets, ignore_errors=True)
        p = subprocess.run([T2, "quickstart-init", assets], env=env, capture_output=True, text=True, timeout=1500)
        if p.returncode != 0:
            fail(f"quickstart-init exited {p.returncode}", p)
    train = to_user(os.path.join(assets, "data/arith-train.jsonl"), os.path.join(work, "sums-train.jsonl"), "tr")
    test = to_user(os.path.join(assets, "data/arith-test.jsonl"), os.path.join(work, "sums-test.jsonl"), "te")
    assert len(train) >= 64 and len(test) >= N_TEST
    run = os.path.join(work, "run")
    shutil.rmtree(run, ignore_errors=True)
    campaign = os.path.join(work, "user.yaml")
    with open(campaign, "w") as f:
        f.write(f"""name: usertask
output: {run}
seed: 1
models:
  tiny: {{path: "{assets}/model", dtype: fp32, tp: 1, chat_template: auto, gpu_memory_gb: 1}}
tasks:
  sums:
    kind: user
    data: {{train: "{work}/sums-train.jsonl", test: "{work}/sums-test.jsonl"}}
    split: {{train: "train|even|first:64", valid: "train|odd|first:16", test: "test|first:{N_TEST}"}}
    scorer: numeric
    prompt: "{{problem}}"
    answer_field: target
    id_field: id
    system_prompt: {json.dumps(GSM8K_SYSTEM)}
    max_new_tokens: 48
experiments:
  - {{name: experts, kind: train_expert, tasks: [sums], steps: 4, batch_size: 16, lr: 0.1, valid_every: 2}}
  - {{name: eval, kind: evaluate, tasks: [sums], methods: [base, svf], experts: experts, batch_size: {N_TEST}}}
""")
    p = subprocess.run([T2, "run", campaign, "--no-progress"], env=env, capture_output=True, text=True, timeout=1800,
                       cwd=work)
    if p.returncode != 0:
        fail(f"t2 run exited {p.returncode}", p)

    with h5py.File(os.path.join(run, "run.h5"), "r") as f:
        resolved = json.loads(text(f["campaign/resolved"][0]))
    t = resolved["tasks"]["sums"]
    for k, v in {"kind": "user", "scorer": "numeric", "answer_field": "target", "prompt": "{problem}",
                 "case_sensitive": True, "chat_template": "model_default"}.items():
        if t.get(k) != v:
            fail(f"run.h5 campaign/resolved tasks.sums.{k} = {t.get(k)!r}, expected {v!r}")

    by_id = {r["id"]: r for r in test}
    seen = {}
    trained = False
    for d in sorted(os.listdir(os.path.join(run, "jobs"))):
        jdir = os.path.join(run, "jobs", d)
        if not os.path.exists(os.path.join(jdir, "DONE")):
            fail(f"job {d} did not finish")
        with h5py.File(os.path.join(jdir, "job.h5"), "r") as f:
            kind = text(f.attrs["job_kind"])
            params = {k: text(v) for k, v in f["params"].attrs.items()}
        if kind != "evaluate":
            trained |= params.get("task") == "sums" and os.path.exists(os.path.join(jdir, "expert.h5"))
            continue
        with h5py.File(os.path.join(jdir, "result.h5"), "r") as f:
            acc, n = float(f.attrs["accuracy"]), int(f.attrs["n"])
        scores, ids = [], []
        for name in sorted(x for x in os.listdir(jdir) if x.startswith("eval-") and x.endswith(".h5")):
            with h5py.File(os.path.join(jdir, name), "r") as f:
                cols = {k: f["records"][k][:] for k in f["records"]}
            for i in range(len(cols["score"])):
                eid, prompt, resp = text(cols["example_id"][i]), text(cols["prompt"][i]), text(cols["response"][i])
                rec = by_id.get(eid)
                if rec is None:
                    fail(f"{d}: example id {eid!r} is not an id of the JSONL")
                if rec["problem"] not in prompt or "appropriately completes the request" not in prompt:
                    fail(f"{d} {eid}: the prompt does not hold the problem and the system prompt: {prompt!r}")
                want = 1.0 if (last_number(resp) is not None and abs(last_number(resp) - rec["target"]) <= 1e-6 *
                               max(1.0, abs(rec["target"]))) else 0.0
                if float(cols["score"][i]) != want:
                    fail(f"{d} {eid}: score {cols['score'][i]} but the response {resp!r} vs target {rec['target']}")
                scores.append(float(cols["score"][i]))
                ids.append(eid)
        if n != N_TEST or sorted(ids) != sorted(f"te{i}" for i in range(N_TEST)):
            fail(f"{d}: n {n}, ids {sorted(ids)[:5]}..., expected the first {N_TEST} test records")
        if abs(acc - sum(scores) / len(scores)) > 1e-12:
            fail(f"{d}: result.h5 accuracy {acc} is not the mean of its records")
        seen[params["method"]] = acc
    if set(seen) != {"base", "svf"} or not trained:
        fail(f"evaluations {seen}, expert trained on sums: {trained}")
    if seen["base"] <= 0:
        fail("the base model solves none of the arith problems given as a user task (prompt not built as expected?)")
    print(f"user task 'sums': base {seen['base']:.3f}, svf {seen['svf']:.3f} on {N_TEST} examples")


if __name__ == "__main__":
    main()
