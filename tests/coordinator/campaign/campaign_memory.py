#!/usr/bin/python3
"""The memory keys of train_expert take effect and leave the training unchanged (docs/runtime.md,
"Memory model"), on e2e.yaml's fixture model fix_a (fp32), two REINFORCE steps on arc_easy:

  micro_batch 0, recompute none    the whole gradient shard in one forward, every layer's activations
  micro_batch 1, recompute layer   one rollout per forward/backward, each layer rerun in backward
  micro_batch 3, recompute layer   shards split unevenly

The loss, gradient norm and final z of the three runs agree within 1e-5 relative (a micro-batched
shard sums its rollouts' gradients in another order; recomputation reruns the same operations), and
`t2 plan` of the campaign plans a gradient item of micro_batch rollouts with the campaign's recompute.
Usage: campaign_memory.py WORK. Env: T2_BIN, T2_SOURCE_DIR, T2_DATA_DIR (missing data: SKIPPED).
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from campaign_e2e import CAMPAIGN, T2, check, env_for  # noqa: E402
from campaign_dtype import fixture  # noqa: E402

ONLY_EXPERTS = ["~models.fix_b", "~experiments.cls_expert", "~experiments.fewshot", "~experiments.eval",
                "~experiments.eval_fewshot", "experiments.experts.tasks=[arc_easy]"]
RUNS = {"whole-none": ["experiments.experts.micro_batch=0", "experiments.experts.recompute=none"],
        "mb1-layer": ["experiments.experts.micro_batch=1", "experiments.experts.recompute=layer"],
        "mb3-layer": ["experiments.experts.micro_batch=3", "experiments.experts.recompute=layer"]}


def trained(run):
    import h5py
    import numpy as np
    path = os.path.join(run, "jobs", "train_expert~fix_a~arc_easy~seed7", "expert.h5")
    check(os.path.exists(path), f"{path} exists")
    with h5py.File(path, "r") as f:
        z = np.concatenate([f["z"][n][()] for n in sorted(f["z"])])
        return {"loss": f["curve/loss"][()], "grad_norm": f["curve/grad_norm"][()], "z": z}


def main(work):
    import numpy as np
    fixture(work)
    results = {}
    for name, keys in RUNS.items():
        run = os.path.join(work, "memory-" + name)
        shutil.rmtree(run, ignore_errors=True)
        p = subprocess.run([T2, "run", CAMPAIGN, "--no-progress", *ONLY_EXPERTS, *keys], env=env_for(work, run),
                           capture_output=True, text=True, timeout=900)
        check(p.returncode == 0, f"campaign {name} exit {p.returncode}", p)
        results[name] = trained(run)
        print(f"{name}: loss {results[name]['loss'].tolist()}, grad_norm {results[name]['grad_norm'].tolist()}")
    ref = results["whole-none"]
    for name, r in results.items():
        for key in ("loss", "grad_norm", "z"):
            diff = float(np.max(np.abs(r[key] - ref[key])))
            scale = float(np.max(np.abs(ref[key])))
            check(scale > 0 and diff <= 1e-5 * scale, f"{name} {key}: max |diff| {diff:.3g} vs scale {scale:.3g}")
    print("micro_batch 1 and 3 with recompute layer train as micro_batch 0 with recompute none (<= 1e-5 relative)")

    # t2 plan reads the same keys: micro_batch rollouts per gradient item, the campaign's recompute.
    for keys, rows, recompute in ((RUNS["mb3-layer"], 3, "layer"), (RUNS["whole-none"], 16, "none")):
        p = subprocess.run([T2, "plan", CAMPAIGN, *ONLY_EXPERTS, *keys, "--json"], env=env_for(work, work),
                           capture_output=True, text=True, timeout=120)
        check(p.returncode in (0, 1), f"t2 plan exit {p.returncode}", p)
        st = json.loads(p.stdout)["models"]["fix_a"]["settings"]
        check(st["train_micro_batch"] == rows and st["recompute"] == recompute,
              f"t2 plan with {keys}: micro-batch {st['train_micro_batch']}, recompute {st['recompute']}", p)
    print("t2 plan follows micro_batch and recompute")


if __name__ == "__main__":
    w = os.path.abspath(sys.argv[1])
    os.makedirs(w, exist_ok=True)
    main(w)
