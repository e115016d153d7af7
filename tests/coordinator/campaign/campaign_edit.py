#!/usr/bin/python3
"""Edited campaigns never mix results: `t2 run` on tests/coordinator/campaign/edit.yaml (one fixture
model, one expert, evaluations with and without it), then edited reruns on the same run directory.
Real processes: the t2 binary, h5py.

  campaign_edit.py WORK
    1. a first run finishes; the resolved campaign is frozen in RUN/campaign.frozen.yaml and every job's
       parameters are recorded with a hash in RUN/job-params.json
    2. `t2 run RUN/campaign.frozen.yaml` (what requeued Slurm jobs run) finds nothing to do
    3. an edit of the expert's lr exits 2, naming the expert job with `lr` and the svf evaluation that
       uses it (`inputs.train_expert/...`), not the base evaluations; no record changes
    4. an edit of a task's limit exits 2 naming the evaluations of that task only
    5. adding a seed is allowed: only the new seed's jobs run, the seed-7 records are untouched
    6. --rerun-changed with the lr edit recomputes exactly the expert and the svf evaluation of seed 7
       (old records kept under RUN/superseded/), leaves every other record as it was, and records the
       new hash; the recomputed expert differs from the old one (h5py)
Env: T2_BIN, T2_SOURCE_DIR, T2_DATA_DIR (else ../shared; missing data prints SKIPPED and exits 0).
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import campaign_e2e as e2e  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CAMPAIGN = os.path.join(HERE, "edit.yaml")
EXPERT = "train_expert/fix_a/gsm8k/seed7"
SVF = "evaluate/fix_a/gsm8k/svf/seed7"
BASE = "evaluate/fix_a/gsm8k/base/seed7"
ARC = "evaluate/fix_a/arc_easy/base/seed7"


def folder(job):
    return job.replace("/", "~")


def env_for(work, run):
    e = e2e.env_for(work, run)
    e.update({"T2_EDIT_RUN": run, "T2_EDIT_MODELS": os.path.join(work, "models")})
    return e


def t2(work, run, *args, campaign=CAMPAIGN):
    return subprocess.run([e2e.T2, "run", campaign, "--no-progress", *args], env=env_for(work, run),
                          capture_output=True, text=True, timeout=900)


def records(run):
    """(folder, file) -> (inode, size, mtime) of every file under RUN/jobs: what the refused reruns must
    leave exactly as it was."""
    out = {}
    jobs = os.path.join(run, "jobs")
    for root, _, files in os.walk(jobs):
        for f in files:
            st = os.stat(os.path.join(root, f))
            out[(os.path.relpath(root, jobs), f)] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def job_records(recs, job):
    return {k: v for k, v in recs.items() if k[0] == folder(job)}


def expert_z(run_or_dir):
    import h5py
    import numpy as np
    with h5py.File(os.path.join(run_or_dir, "expert.h5"), "r") as f:
        out = []
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                out.append(np.asarray(obj).ravel())
        f.visititems(visit)
        return np.concatenate(out)


def main(work):
    e2e.data_dir()
    shutil.rmtree(work, ignore_errors=True)
    dd = e2e.data_dir()
    d = os.path.join(work, "models", "a")
    subprocess.run([e2e.PY, os.path.join(e2e.SRC, "tests/workers/fixtures/make_fixture.py"), d, "--family", "llama3",
                    "--seed", "1", "--vocab", "128256", "--hidden", "32", "--intermediate", "64", "--layers", "2",
                    "--heads", "4", "--kv-heads", "2", "--tie"], check=True, timeout=120)
    for f in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(os.path.join(dd, "tokenizers/llama3", f), d)
    run = os.path.join(work, "run")

    # 1. first run: frozen campaign and recorded parameters
    p = t2(work, run)
    e2e.check(p.returncode == 0, f"first run exit {p.returncode}", p)
    frozen = os.path.join(run, "campaign.frozen.yaml")
    e2e.check(os.path.exists(frozen), "no campaign.frozen.yaml in the run directory", p)
    with open(os.path.join(run, "job-params.json")) as f:
        params = json.load(f)
    for job in (EXPERT, SVF, BASE, ARC, "decompose/fix_a"):
        e2e.check(job in params and len(params[job]["hash"]) == 32, f"job-params.json has no hash for {job}")
    e2e.check(json.loads(params[EXPERT]["params"]["lr"]) == 2e-3, "the expert's recorded lr is the default")
    e2e.check(f"inputs.{EXPERT}" in params[SVF]["params"], "the svf evaluation records its input's hash")
    before = records(run)
    e2e.check(all(job_records(before, j) for j in (EXPERT, SVF, BASE, ARC)), "a job left no records")

    # 2. the frozen copy is a campaign that t2 run accepts and that has nothing left to do
    p = t2(work, run, campaign=frozen)
    e2e.check(p.returncode == 0, f"t2 run on the frozen copy exit {p.returncode}", p)
    e2e.check(records(run) == before, "running the frozen copy of a finished campaign changed records", p)

    # 3. an edited lr touches the expert and the evaluation that uses it
    p = t2(work, run, "experiments.experts.lr=0.05")
    e2e.check(p.returncode == 2, f"an edited lr should exit 2, got {p.returncode}", p)
    lines = {l.strip().split(" ")[0]: l for l in p.stderr.splitlines() if l.startswith("  ")}
    e2e.check(EXPERT in lines and "lr" in lines[EXPERT].split("changed ", 1)[1].split(", "),
              f"the refusal should name {EXPERT} with key lr", p)
    e2e.check(SVF in lines and f"inputs.{EXPERT}" in lines[SVF], f"the refusal should name {SVF} through its input", p)
    e2e.check(BASE not in lines and ARC not in lines, "the base evaluations did not change", p)
    e2e.check("0.002 -> 0.05" in p.stderr, "the refusal shows the old and new value", p)
    e2e.check(records(run) == before, "a refused rerun changed records", p)

    # 4. an edited task limit touches the evaluations of that task only (the expert trains on train items)
    p = t2(work, run, "tasks.arc_easy.limit=3")
    e2e.check(p.returncode == 2, f"an edited task limit should exit 2, got {p.returncode}", p)
    e2e.check(f"  {ARC} (done): changed tasks.arc_easy.limit" in p.stderr, f"the refusal should name {ARC}", p)
    e2e.check(BASE not in p.stderr and EXPERT not in p.stderr, "only arc_easy's evaluation changed", p)
    e2e.check(records(run) == before, "a refused rerun changed records", p)

    # 5. a new seed is allowed and runs only its own jobs
    p = t2(work, run, "seed=[7,8]")
    e2e.check(p.returncode == 0, f"adding a seed should run, exit {p.returncode}", p)
    after = records(run)
    e2e.check({k: v for k, v in after.items() if k in before} == before, "adding a seed changed seed-7 records", p)
    new = {k[0] for k in after if k not in before}
    e2e.check(new and all("seed8" in n for n in new), f"adding a seed ran other jobs: {sorted(new)}", p)
    e2e.check(os.path.exists(os.path.join(run, "jobs", folder(EXPERT.replace("seed7", "seed8")), "DONE")),
              "the new seed's expert did not finish", p)
    with open(frozen) as f:
        e2e.check("8" in json.dumps(json.loads("".join(l for l in f if not l.startswith("#")))["seed"]),
                  "the frozen campaign now has the added seed")
    before = after

    # 6. --rerun-changed recomputes exactly the expert and the evaluation that uses it
    old_z = expert_z(os.path.join(run, "jobs", folder(EXPERT)))
    p = t2(work, run, "seed=[7,8]", "experiments.experts.lr=0.05", "--rerun-changed")
    e2e.check(p.returncode == 0, f"--rerun-changed exit {p.returncode}", p)
    after = records(run)
    changed = {k[0] for k in set(before) | set(after) if before.get(k) != after.get(k)}
    expected = {folder(j) for j in (EXPERT, SVF, EXPERT.replace("seed7", "seed8"), SVF.replace("seed7", "seed8"))}
    e2e.check(changed == expected, f"--rerun-changed recomputed {sorted(changed)}, expected {sorted(expected)}", p)
    sup = os.path.join(run, "superseded")
    kept = [os.path.join(r, f) for r, _, fs in os.walk(sup) for f in fs if f == "DONE"]
    e2e.check(len(kept) == 4, f"the superseded records should be kept (4 DONE markers), found {kept}", p)
    for j in (EXPERT, SVF):
        e2e.check(os.path.exists(os.path.join(run, "jobs", folder(j), "DONE")), f"{j} was not recomputed", p)
    new_z = expert_z(os.path.join(run, "jobs", folder(EXPERT)))
    e2e.check(old_z.shape == new_z.shape and abs(old_z - new_z).max() > 0, "the recomputed expert equals the old one")
    with open(os.path.join(run, "job-params.json")) as f:
        e2e.check(json.loads(json.load(f)[EXPERT]["params"]["lr"]) == 0.05, "the new lr is recorded")
    # and the same campaign again is now accepted as it is
    p = t2(work, run, "seed=[7,8]", "experiments.experts.lr=0.05")
    e2e.check(p.returncode == 0 and records(run) == after, "rerunning the recomputed campaign changed records", p)
    print("edited campaigns: refused with the changed keys per job, new seeds run alone, --rerun-changed "
          "recomputes exactly the changed jobs")


if __name__ == "__main__":
    main(sys.argv[1])
