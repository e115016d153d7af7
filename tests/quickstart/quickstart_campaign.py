#!/usr/bin/python3
"""A shortened quickstart in CI: `t2 quickstart-init` with its defaults (the real tiny model), then
examples/quickstart.yaml cut down by overrides (no classifier expert; base, svf, t2_prompt on the
first 60 test items of arith and code; base and t2_fewshot on the first 150 of the unseen task), and
the direction of the improvements asserted: each expert beats the base model on its own task, and so
does prompt dispatch (METHOD.md §6.1); the few-shot mixture of the three experts beats the base model
on the unseen task (§6.3). The run is then exported in lm-evaluation-harness's format and the export
checked field by field against the HDF5 records (tests/ecosystem/lm_eval_check.py), and every job but
the decomposition has its TensorBoard event file.
No ../shared data is needed: the model and tasks are t2's own.

  quickstart_campaign.py WORK      env: T2_BIN, T2_SOURCE_DIR
"""
import math
import os
import re
import shutil
import subprocess
import sys

SRC = os.environ.get("T2_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
T2 = os.environ.get("T2_BIN", os.path.join(SRC, "build/bin/t2"))
OVERRIDES = ["~experiments.cls_expert", "~experiments.eval_train.classifier", "~experiments.eval_unseen.classifier",
             "experiments.eval_train.methods=[base,svf,t2_prompt]", "experiments.eval_train.tasks=[arith,code]",
             "experiments.eval_unseen.methods=[base,t2_fewshot]",
             "tasks.arith.limit=60", "tasks.code.limit=60", "tasks.arith_choice.limit=150",
             # the baselines and the second model have their own test (baselines_campaign.py)
             "~models.tiny_b", "~experiments.lora", "~experiments.ia3", "~experiments.eval_b",
             "~experiments.eval_transfer"]


def main():
    work = os.path.abspath(sys.argv[1])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", T2_QUICKSTART_DIR=os.path.join(work, "assets"))
    p = subprocess.run([T2, "quickstart-init", env["T2_QUICKSTART_DIR"]], env=env, capture_output=True, text=True,
                       timeout=1200)
    if p.returncode != 0:
        sys.exit(f"quickstart-init failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    run = os.path.join(work, "run")
    p = subprocess.run([T2, "run", os.path.join(SRC, "examples/quickstart.yaml"), f"output={run}", "--no-progress",
                        *OVERRIDES], env=env, capture_output=True, text=True, timeout=1800, cwd=work)
    if p.returncode != 0:
        sys.exit(f"t2 run failed ({p.returncode}):\n{p.stderr[-6000:]}")
    acc = {}
    for line in p.stderr.splitlines():
        m = re.search(r"done evaluate/tiny/(\w+)/(\w+)/seed1 (\{.*\})", line)
        if m:
            import json
            acc[(m[1], m[2])] = json.loads(m[3])
    print(subprocess.run([T2, "table", run], capture_output=True, text=True).stdout)
    failures = []
    for task in ("arith", "code"):
        base = acc[(task, "base")]
        for method in ("svf", "t2_prompt"):
            a = acc[(task, method)]
            se = math.sqrt(base["se"] ** 2 + a["se"] ** 2)
            print(f"{task}: base {base['accuracy']:.3f} -> {method} {a['accuracy']:.3f} (n {a['n']}, joint SE {se:.3f})")
            if not a["accuracy"] > base["accuracy"]:
                failures.append(f"{task} {method} {a['accuracy']:.3f} does not beat base {base['accuracy']:.3f}")
    base, a = acc[("arith_choice", "base")], acc[("arith_choice", "t2_fewshot")]
    print(f"arith_choice (unseen): base {base['accuracy']:.3f} -> t2_fewshot {a['accuracy']:.3f} (n {a['n']})")
    if not a["accuracy"] > base["accuracy"]:
        failures.append(f"arith_choice t2_fewshot {a['accuracy']:.3f} does not beat base {base['accuracy']:.3f}")
    sys.path.insert(0, os.path.join(SRC, "tests", "ecosystem"))
    import lm_eval_check
    try:
        cells = lm_eval_check.export_and_check(T2, run, os.path.join(work, "lm-eval"), env)
        print(f"lm-eval export of {len(cells)} evaluations checked field by field")
    except lm_eval_check.Mismatch as e:
        failures.append(f"lm-eval export: {e}")
    for job in os.listdir(os.path.join(run, "jobs")):
        if not job.startswith("decompose") and not os.path.isdir(os.path.join(run, "tensorboard", job)):
            failures.append(f"no TensorBoard event file for {job}")
    if failures:
        sys.exit("; ".join(failures))


if __name__ == "__main__":
    main()
