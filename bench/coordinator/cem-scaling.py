#!/usr/bin/python3
"""CEM generation throughput of `t2 run` with 1 vs 2 worker groups (mpirun -np 2 vs -np 3).

Builds the e2e campaign's fixture models and trained experts once (tests/coordinator/campaign), then
times only the few-shot searches: each measurement copies the finished reference run directory, deletes
the fewshot_search jobs (and the evaluations that consume them) and runs the campaign again with more
generations and a 32-candidate population, so that the searches are the only work left. Prints
generations per second for both and the scaling efficiency (speed-up / 2); target >= 90 %.

  bench/coordinator/cem-scaling.py [WORK_DIR] [--generations N]
Env: T2_BIN (default build/bin/t2), T2_DATA_DIR.
"""
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/coordinator/campaign"))
import campaign_e2e as e2e  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    gens = 6
    if "--generations" in sys.argv:
        gens = int(sys.argv[sys.argv.index("--generations") + 1])
    work = os.path.abspath(args[0] if args else "/tmp/t2-bench-cem")
    if not os.path.exists(os.path.join(work, "reference.digest")):
        e2e.setup(work)
    ref = os.path.join(work, "reference")
    overrides = [f"experiments.fewshot.generations={gens}", "experiments.fewshot.population=32",
                 "experiments.fewshot.elites=6", "experiments.fewshot.shots=6"]
    results = {}
    for np_, groups in ((2, 1), (3, 2)):
        run = os.path.join(work, f"cem-{groups}g")
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(ref, run)
        for d in os.listdir(os.path.join(run, "jobs")):
            if d.startswith("fewshot_search~") or "~t2_fewshot~" in d:
                shutil.rmtree(os.path.join(run, "jobs", d))
        cmd = [*e2e.MPIRUN, "-np", str(np_), e2e.T2, "run", e2e.CAMPAIGN, "--no-progress", *overrides]
        t0 = time.time()
        p = e2e.subprocess.run(cmd, env=e2e.env_for(work, run), capture_output=True, text=True, timeout=3600)
        wall = time.time() - t0
        e2e.check(p.returncode == 0, f"mpirun -np {np_} exit {p.returncode}", p)
        # the searches' own time: from the campaign line to the last fewshot_search done line
        stamps = {}
        for line in p.stderr.splitlines():
            m = re.match(r"\[(\d+):(\d+):([\d.]+)\]", line)
            if not m:
                continue
            t = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
            if "campaign e2e:" in line and "jobs," in line:
                stamps["start"] = t
            if "done fewshot_search/" in line:
                stamps["end"] = t
        secs = stamps["end"] - stamps["start"]
        searches = 2  # one per model
        results[groups] = searches * gens / secs
        print(f"{groups} worker group(s): {searches * gens} generations of 32 candidates in {secs:.1f} s "
              f"({results[groups]:.2f} generations/s; whole run {wall:.1f} s)")
    speedup = results[2] / results[1]
    print(f"speed-up 2 vs 1 groups: {speedup:.2f}x, scaling efficiency {100 * speedup / 2:.0f} % (target >= 90 %)")


if __name__ == "__main__":
    main()
