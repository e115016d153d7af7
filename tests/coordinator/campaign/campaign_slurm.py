#!/usr/bin/python3
"""The e2e campaign on a real local Slurm (scripts/slurm-local, ctest fixture `slurm`), submitted with
`t2 submit`; results compared with the one-process reference run of campaign_e2e.py (fixture t2_e2e).

  campaign_slurm.py job     WORK   one 2-task MPI job (srun --mpi=pmix): identical results
  campaign_slurm.py array   WORK   seed=[7,8,9] as a 3-element job array: every element finishes, and
                                   the seed-7 run directory holds the reference results
  campaign_slurm.py preempt WORK   a running job gets SIGUSR1 (as before its time limit), checkpoints,
                                   requeues itself, starts again (SLURM_RESTART_COUNT=1), resumes and
                                   finishes with identical results; the campaign file is edited after
                                   submission and the requeued start still runs the frozen copy
  campaign_slurm.py cancel  WORK   `t2 cancel` of a running job: t2 takes the SIGTERM as a cancellation
                                   (its log says so), does not requeue, the job ends CANCELLED and never
                                   starts again
Skips (prints SKIPPED) when Slurm is not installed; a cluster that does not answer is a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import campaign_e2e as e2e  # noqa: E402

OVERRIDES = ["slurm.gpus_per_node=0", "slurm.cpus_per_task=1", "slurm.time=00:20:00"]


def sh(cmd, timeout=60, check=True, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        e2e.check(False, f"{' '.join(cmd)} exit {p.returncode}", p)
    return p


def cluster_env(work, run):
    if not os.path.exists("/usr/sbin/slurmctld") or not os.path.exists("/usr/bin/sbatch"):
        print("[  SKIPPED ] Slurm is not installed (scripts/install-deps): slurm test skipped")
        sys.exit(0)
    env = e2e.env_for(work, run)
    env.setdefault("SLURM_CONF", "/tmp/t2-slurm-local/slurm.conf")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    p = sh(["scontrol", "ping"], check=False)
    e2e.check(p.returncode == 0 and "UP" in p.stdout, "the local Slurm does not answer (scripts/slurm-local start)", p)
    return env


def submit(work, run, extra, campaign=e2e.CAMPAIGN):
    env = cluster_env(work, run)
    shutil.rmtree(run, ignore_errors=True)
    p = sh([e2e.T2, "submit", campaign, *OVERRIDES, *extra], env=env, timeout=120)
    frozen = os.path.join(run, "campaign.frozen.yaml")
    for script in [f for f in os.listdir(os.path.join(run, "slurm")) if f.endswith(".sbatch")]:
        with open(os.path.join(run, "slurm", script)) as f:
            text = f.read()
        launch = [l for l in text.splitlines() if " run " in l and not l.startswith("#")]
        e2e.check(launch and "campaign.frozen.yaml" in launch[0] and campaign not in launch[0],
                  f"{script} should run the frozen copy, not the live campaign\n{text}", p)
    if "--array" not in extra:
        e2e.check(os.path.exists(frozen), "t2 submit did not freeze the campaign in the run directory", p)
    with open(os.path.join(run, "slurm", "jobs.json")) as f:
        jobs = json.load(f)
    ids = [str(j.get("job_id", j.get("id"))) for j in (jobs if isinstance(jobs, list) else jobs.get("jobs", []))]
    e2e.check(len(ids) == 1, f"expected one submitted job, jobs.json says {jobs}", p)
    print("submitted", ids[0], p.stdout.strip())
    return ids[0], env


def states(job):
    p = sh(["sacct", "-n", "-X", "-P", "-j", job, "-o", "JobID,State,ExitCode"], check=False)
    rows = [l.split("|") for l in p.stdout.split("\n") if l.strip()]
    if not rows:  # accounting may lag: ask the controller
        p = sh(["squeue", "-h", "-r", "-j", job, "-o", "%i|%T|0:0"], check=False)
        rows = [l.split("|") for l in p.stdout.split("\n") if l.strip()]
    return rows


def wait_done(job, timeout):
    end = time.time() + timeout
    while time.time() < end:
        q = sh(["squeue", "-h", "-r", "-j", job, "-o", "%i %T"], check=False)
        if q.returncode == 0 and not q.stdout.strip():
            return
        time.sleep(2)
    sh(["scancel", job], check=False)
    e2e.check(False, f"job {job} did not finish within {timeout} s")


def logs(run):
    d = os.path.join(run, "slurm", "logs")
    out = ""
    for fn in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, fn), errors="replace") as f:
            out += f"==> {fn}\n" + f.read()
    return out


def finished_all(run, what):
    text = logs(run)
    e2e.check("campaign e2e: 28 done;" in text, f"{what}: the log does not say every job finished\n{text[-6000:]}")


def job(work):
    run = os.path.join(work, "slurm-job")
    jid, _ = submit(work, run, [])
    wait_done(jid, 600)
    finished_all(run, "2-task job")
    d = e2e.digest(run)
    e2e.check(d == e2e.reference(work), f"the Slurm job computed different results: {d}")
    print(f"slurm job {jid} (2 MPI tasks under srun --mpi=pmix): identical results")


def array(work):
    run = os.path.join(work, "slurm-array")
    jid, _ = submit(work, run, ["seed=[7,8,9]", "--array"])
    wait_done(jid, 900)
    text = logs(run)
    e2e.check(text.count("campaign e2e: 28 done;") == 3, f"not all 3 array elements finished\n{text[-6000:]}")
    d = e2e.digest(os.path.join(run, "seed7"))
    e2e.check(d == e2e.reference(work), f"array element seed 7 computed different results: {d}")
    for s in (8, 9):
        e2e.check(os.path.exists(os.path.join(run, f"seed{s}", "run.h5")), f"no run directory for seed {s}")
    print(f"slurm array {jid}: 3 elements finished; seed 7 identical to the reference")


def wait_progress(run, jobs_done):
    """Returns once `jobs_done` jobs of the run wrote DONE (bounded: a job that never gets going fails)."""
    end = time.time() + 300
    while time.time() < end:
        jobs_dir = os.path.join(run, "jobs")
        done = [d for d in os.listdir(jobs_dir) if os.path.exists(os.path.join(jobs_dir, d, "DONE"))] \
            if os.path.isdir(jobs_dir) else []
        if len(done) >= jobs_done:
            return len(done)
        time.sleep(0.5)
    e2e.check(False, "the job never got going\n" + logs(run)[-4000:])


def cancel(work):
    run = os.path.join(work, "slurm-cancel")
    jid, env = submit(work, run, [])
    n = wait_progress(run, 2)
    p = sh([e2e.T2, "cancel", run], env=env)
    print(f"t2 cancel after {n} finished jobs: {p.stdout.strip()}")
    wait_done(jid, 300)
    # the job-completion file (sacct -c: no slurmdbd here) is written as the job ends: bounded wait for it
    end, rows = time.time() + 60, []
    while time.time() < end and not rows:
        p = sh(["sacct", "-c", "-n", "-X", "-P", "-j", jid, "-o", "JobID,State,ExitCode"], check=False)
        rows = [l.split("|") for l in p.stdout.split("\n") if l.strip()]
        if not rows:
            time.sleep(1)
    e2e.check(rows and rows[-1][1].startswith("CANCELLED"), f"job {jid} should end CANCELLED: {rows}")
    text = logs(run)
    e2e.check("start 1 on" not in text, "a cancelled job started again\n" + text[-6000:])
    e2e.check("requeued job" not in text, "a cancelled job was requeued\n" + text[-6000:])
    e2e.check("cancelled, stopping without requeue" in text, "t2 did not take the SIGTERM as a cancellation\n" +
              text[-6000:])
    print(f"slurm job {jid}: t2 cancel -> SIGTERM taken as a cancellation, not requeued, CANCELLED")


def preempt(work):
    run = os.path.join(work, "slurm-preempt")
    live = os.path.join(work, "preempt-campaign.yaml")
    shutil.copy(e2e.CAMPAIGN, live)
    jid, _ = submit(work, run, [], campaign=live)
    # edit the live file after submission: the requeued start must still run what was submitted
    with open(live) as f:
        text = f.read()
    with open(live, "w") as f:
        f.write(text.replace("steps: 2", "steps: 3"))
    # wait until the campaign is under way (a few jobs done), then signal it as Slurm does before the limit
    end = time.time() + 300
    while time.time() < end:
        jobs_dir = os.path.join(run, "jobs")
        done = [d for d in os.listdir(jobs_dir) if os.path.exists(os.path.join(jobs_dir, d, "DONE"))] \
            if os.path.isdir(jobs_dir) else []
        if len(done) >= 3:
            break
        time.sleep(0.5)
    e2e.check(time.time() < end, "the job never got going\n" + logs(run)[-4000:])
    sh(["scancel", "--signal=USR1", jid])
    print(f"sent SIGUSR1 to job {jid} after {len(done)} finished jobs")
    # requeued: a second start, then the end
    end = time.time() + 900
    while time.time() < end:
        if "start 1 on" in logs(run):
            break
        time.sleep(2)
    e2e.check("start 1 on" in logs(run), "the job did not start a second time\n" + logs(run)[-6000:])
    wait_done(jid, 900)
    finished_all(run, "preempted job")
    e2e.check("signal" in logs(run) and "requeued" in logs(run), "no signal / requeue lines in the log\n" + logs(run)[-6000:])
    d = e2e.digest(run)
    e2e.check(d == e2e.reference(work), f"the preempted job computed different results: {d}")
    print(f"slurm job {jid}: SIGUSR1, requeued, resumed, identical results")


if __name__ == "__main__":
    mode, work = sys.argv[1], os.path.abspath(sys.argv[2])
    e2e.data_dir()
    {"job": job, "array": array, "preempt": preempt, "cancel": cancel}[mode](work)
