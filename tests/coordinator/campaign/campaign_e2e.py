#!/usr/bin/python3
"""End-to-end tests of `t2 run` on tests/coordinator/campaign/e2e.yaml: two random fixture models x
two real tasks x every method. Real processes throughout: the t2 binary, mpirun, h5py.

  campaign_e2e.py setup  WORK    fixture models, then an uninterrupted one-process run (the reference)
  campaign_e2e.py mpi    WORK N  the same campaign under `mpirun -np N`: same digest as the reference
  campaign_e2e.py broken WORK    model b's weights truncated: its jobs fail with the loader's message after
                                 the bounded retries, model a's jobs all finish, exit code 1, and
                                 `t2 status` shows the failures with their reason
  campaign_e2e.py kill   WORK K  `mpirun -np 2` killed with SIGKILL (whole process group) at K random
                                 moments of its progress, resumed each time, then run to the end: same digest
                                 and the same TensorBoard scalars (no step twice, no torn record)
  campaign_e2e.py rank   WORK SIG  one worker rank of `mpirun -np 3` gets SIGSTOP or SIGKILL once the
                                 campaign has written results: the job ends non-zero without hanging
                                 (a stopped rank: the coordinator reports it hung, with its rank, job and
                                 item, within the item's deadline, and aborts the MPI job), and a rerun
                                 resumes to the reference digest
  campaign_e2e.py heartbeat WORK `mpirun -np 3` with 3 s deadlines for every kind of work: busy groups'
                                 heartbeats keep them alive (none declared hung), results identical
  campaign_e2e.py unshared WORK  two ranks in different directories with a relative output (no shared
                                 file system): exit 2 naming the rank that cannot see the run directory
Env: T2_BIN (the t2 binary), T2_SOURCE_DIR, T2_DATA_DIR (else ../shared beside the sources; missing
data prints SKIPPED and exits 0 so ctest's skip regex reports it).
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("T2_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "../../..")))
T2 = os.environ.get("T2_BIN", os.path.join(SRC, "build/bin/t2"))
PY = "/usr/bin/python3"
CAMPAIGN = os.path.join(HERE, "e2e.yaml")
MPIRUN = ["mpirun", "--oversubscribe", "--bind-to", "none"]


def data_dir():
    d = os.environ.get("T2_DATA_DIR") or os.path.join(SRC, "..", "shared")
    if not os.path.isdir(os.path.join(d, "data")):
        print("[  SKIPPED ] T2_DATA_DIR / ../shared not found: data test skipped")
        sys.exit(0)
    return os.path.abspath(d)


def t2_env(**extra):
    """The environment of a t2 process under test: one thread per process, mpirun allowed as root, and
    `extra` (the campaign's variables)."""
    e = dict(os.environ)
    e.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", **extra})
    return e


def env_for(work, run):
    return t2_env(T2_E2E_RUN=run, T2_E2E_MODELS=os.path.join(work, "models"), T2_DATA_DIR=data_dir())


def digest(run):
    """run_digest.py over the run directory: a hash of every HDF5 dataset."""
    out = subprocess.run([PY, os.path.join(HERE, "run_digest.py"), run], check=True, capture_output=True, text=True,
                         timeout=300)
    return out.stdout.strip()


def run_t2(work, run, np_=1, timeout=900, *, campaign=CAMPAIGN, args=(), env=None, cwd=None):
    """`t2 run campaign --no-progress args...`, under `mpirun -np np_` when np_ > 1; env defaults to
    env_for(work, run) (e2e.yaml's variables)."""
    cmd = ([*MPIRUN, "-np", str(np_)] if np_ > 1 else []) + [T2, "run", campaign, "--no-progress", *args]
    return subprocess.run(cmd, env=env if env is not None else env_for(work, run), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def check(cond, what, proc=None):
    if not cond:
        print("FAILED:", what)
        if proc is not None:
            print(proc.stdout[-4000:], proc.stderr[-8000:])
        sys.exit(1)


def setup(work):
    dd = data_dir()
    shutil.rmtree(work, ignore_errors=True)
    models = os.path.join(work, "models")
    for name, seed in (("a", 1), ("b", 2)):
        d = os.path.join(models, name)
        subprocess.run([PY, os.path.join(SRC, "tests/workers/fixtures/make_fixture.py"), d, "--family", "llama3",
                        "--seed", str(seed), "--vocab", "128256", "--hidden", "32", "--intermediate", "64",
                        "--layers", "2", "--heads", "4", "--kv-heads", "2", "--tie"], check=True, timeout=120)
        for f in ("tokenizer.model", "tokenizer_config.json"):
            shutil.copy(os.path.join(dd, "tokenizers/llama3", f), d)
    ref = os.path.join(work, "reference")
    t0 = time.time()
    p = run_t2(work, ref)
    check(p.returncode == 0, f"one-process run exit {p.returncode}", p)
    print(f"reference run: {time.time() - t0:.1f} s")
    # every job finished, the table and the report read the run directory
    for line in p.stderr.splitlines():
        if line.startswith("campaign e2e:"):
            check(line.startswith("campaign e2e: 28 done;"), "not every job finished: " + line, p)
    t = subprocess.run([T2, "table", ref], capture_output=True, text=True, timeout=120)
    check(t.returncode == 0 and "T² (Cls-expert)" in t.stdout and "fix_b" in t.stdout, "t2 table", t)
    r = subprocess.run([T2, "report", ref, "-o", os.path.join(work, "report.html")], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0 and os.path.getsize(os.path.join(work, "report.html")) > 1000, "t2 report", r)
    # h5py reads the expert files t2 wrote; a trained z is not the initial one
    import h5py
    ex = os.path.join(ref, "jobs", "train_expert~fix_a~gsm8k~seed7", "expert.h5")
    with h5py.File(ex, "r") as f:
        check(f.attrs["format"] in (b"t2-expert", "t2-expert"), "expert.h5 format")
        check(len(f["matrices/names"]) == 6, "expert.h5 has the 6 MLP matrices of 2 layers")
    # a second run on a finished directory does nothing and changes nothing
    keep_reference(work, ref, lambda: run_t2(work, ref))


def keep_reference(work, run, rerun, digest_of=digest):
    """A second run (`rerun()`) on the finished `run` changes nothing; its digest is then kept as the
    reference that reference(work) gives the other modes."""
    d0 = digest_of(run)
    p = rerun()
    check(p.returncode == 0 and digest_of(run) == d0, "re-running a finished campaign changed it", p)
    with open(os.path.join(work, "reference.digest"), "w") as f:
        f.write(d0)
    print("reference digest", d0)


def reference(work):
    path = os.path.join(work, "reference.digest")
    check(os.path.exists(path), "no reference digest: the setup test did not run")
    return open(path).read().strip()


def mpi(work, np_):
    data_dir()
    run = os.path.join(work, f"mpi{np_}")
    shutil.rmtree(run, ignore_errors=True)
    p = run_t2(work, run, np_)
    check(p.returncode == 0, f"mpirun -np {np_} exit {p.returncode}", p)
    d = digest(run)
    check(d == reference(work), f"mpirun -np {np_} computed different results: {d} vs {reference(work)}", p)
    print(f"mpirun -np {np_}: identical results ({d})")


def broken(work):
    data_dir()
    bad = os.path.join(work, "broken-models")
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(os.path.join(work, "models"), bad)
    st = os.path.join(bad, "b", "model.safetensors")
    with open(st, "r+b") as f:
        f.truncate(os.path.getsize(st) // 2)
    run = os.path.join(work, "broken")
    shutil.rmtree(run, ignore_errors=True)
    env = env_for(work, run)
    env["T2_E2E_MODELS"] = bad
    p = subprocess.run([T2, "run", CAMPAIGN, "--no-progress"], env=env, capture_output=True, text=True, timeout=900)
    check(p.returncode == 1, f"expected exit 1 with a broken model, got {p.returncode}", p)
    summary = [l for l in p.stderr.splitlines() if l.startswith("campaign e2e:")]
    check(summary and "14 done" in summary[0], "model a's 14 jobs should finish: " + str(summary), p)
    check("failed decompose/fix_b" in p.stderr and "model.safetensors" in p.stderr,
          "the failure of model b should name its safetensors file", p)
    s = subprocess.run([T2, "status", run], capture_output=True, text=True, timeout=60)
    check("failed" in s.stdout and "decompose/fix_b" in s.stdout, "t2 status should list the failed job", s)
    print("broken model b: its jobs failed with the loader's message, model a finished, exit 1")


def progress_signature(run):
    """(path, size, mtime) of the files that record finished work: checkpoints, evaluation batches, CEM
    generations, experts, SVD factors, DONE markers (bookkeeping a starting run rewrites is left out)."""
    sig = []
    work_file = ("ckpt-", "eval-", "cem-gen-", "expert.h5", "svd-", "DONE")
    for root, _, files in os.walk(run):
        for f in files:
            if not f.startswith(work_file):
                continue
            try:
                st = os.stat(os.path.join(root, f))
            except FileNotFoundError:
                continue
            sig.append((os.path.join(root, f), st.st_size, st.st_mtime_ns))
    return sorted(sig)


def kill(work, kills):
    """Each run is killed at a random moment measured in the campaign's own progress: after 1 or 2 new
    writes to the run directory (a checkpoint, an evaluation batch, a CEM generation, a job's DONE)
    plus a random 0-0.4 s, so the kills land inside the work whatever the machine's speed (fixed
    delays let a fast, idle machine finish the campaign before the tenth kill)."""
    data_dir()
    run = os.path.join(work, "killed")
    shutil.rmtree(run, ignore_errors=True)
    rng = random.Random(int(os.environ.get("T2_KILL_SEED", "12345")))
    landed = 0
    for k in range(kills):
        writes, extra = rng.randint(1, 2), rng.uniform(0.0, 0.4)
        before = progress_signature(run)
        p = subprocess.Popen([*MPIRUN, "-np", "2", T2, "run", CAMPAIGN, "--no-progress"], env=env_for(work, run),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        t0, seen, deadline = time.time(), 0, time.time() + 300
        while p.poll() is None and seen < writes and time.time() < deadline:
            time.sleep(0.03)
            now = progress_signature(run)
            if now != before:
                seen, before = seen + 1, now
        try:
            p.wait(timeout=extra)
            print(f"run {k}: finished before its kill ({seen} writes seen)")
            break
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=60)
            landed += 1
            print(f"run {k}: SIGKILL after {time.time() - t0:.1f} s, {seen} writes + {extra:.2f} s")
    p = run_t2(work, run, 2)
    check(p.returncode == 0, f"final resumed run exit {p.returncode}", p)
    check(landed >= min(kills, 10), f"only {landed} kills landed before the campaign finished")
    d = digest(run)
    check(d == reference(work), f"after {landed} kills the results differ: {d} vs {reference(work)}", p)
    print(f"{landed} SIGKILLs, resumed each time: identical results ({d})")
    # The TensorBoard event files too: every job's scalars as in the uninterrupted run, no step twice,
    # no torn record left (decoded by tests/ecosystem's independent reader).
    sys.path.insert(0, os.path.join(SRC, "tests", "ecosystem"))
    import ecosystem_e2e
    def scalars(r):
        tb = os.path.join(r, "tensorboard")
        return {j: ecosystem_e2e.read_events(os.path.join(tb, j))[0] for j in sorted(os.listdir(tb))}
    ref_tb = scalars(os.path.join(work, "reference"))
    check(ref_tb and scalars(run) == ref_tb, "after the kills the TensorBoard scalars differ from the reference")
    print(f"TensorBoard event files of {len(ref_tb)} jobs: identical to the reference")



def rank_pid(run, rank):
    """The pid of the t2 process of MPI rank `rank` running into `run` (from /proc: its environment)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if (env.get(b"T2_E2E_RUN") == run.encode() and env.get(b"OMPI_COMM_WORLD_RANK") == str(rank).encode()
                and cmd and os.path.basename(cmd[0]) == b"t2"):
            return int(pid)
    return None


def rank_failure(work, sig_name):
    """A worker rank stopped or killed mid-campaign: prompt non-zero exit, then an identical resume. The
    signal is sent once the campaign has written 3 results (paced by progress, not by time)."""
    data_dir()
    sig = {"STOP": signal.SIGSTOP, "KILL": signal.SIGKILL}[sig_name]
    run = os.path.join(work, f"rank-{sig_name.lower()}")
    shutil.rmtree(run, ignore_errors=True)
    deadline_s = 20  # every kind of work, and the model load: a silent group is hung after 20 s
    log = os.path.join(work, f"rank-{sig_name.lower()}.log")
    with open(log, "w") as out:
        p = subprocess.Popen([*MPIRUN, "-np", "3", T2, "run", CAMPAIGN, "--no-progress",
                              f"timeouts.control_message={deadline_s}", f"timeouts.model_load={deadline_s}"],
                             env=env_for(work, run), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end, writes, before = time.time() + 600, 0, progress_signature(run)
        while p.poll() is None and writes < 3 and time.time() < end:
            time.sleep(0.05)
            now = progress_signature(run)
            if now != before:
                writes, before = writes + 1, now
        check(p.poll() is None and writes >= 3, f"the campaign did not get going ({writes} writes)")
        pid = rank_pid(run, 2)
        check(pid is not None, "no t2 process of rank 2 found")
        os.kill(pid, sig)
        t0 = time.time()
        try:
            rc = p.wait(timeout=deadline_s + 180)  # the deadline, the abort, and slack for a loaded machine
        except subprocess.TimeoutExpired:
            check(False, f"SIG{sig_name} of rank 2: the job did not end within {deadline_s + 180} s\n" +
                  open(log, errors="replace").read()[-6000:])
        took = time.time() - t0
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pid2 = rank_pid(run, 2)
        if pid2:
            os.kill(pid2, signal.SIGKILL)
    text = open(log, errors="replace").read()
    check(rc != 0, f"SIG{sig_name} of rank 2: the job should exit non-zero, got {rc}\n" + text[-6000:])
    if sig == signal.SIGSTOP:
        check("group 1 (rank 2) did not answer within" in text and "item #" in text,
              "the coordinator should report rank 2 hung with its job and item\n" + text[-6000:])
        check("lost worker group 1 (rank 2)" in text, "the coordinator should abort for the lost rank\n" + text[-6000:])
        report = [l for l in text.splitlines() if "did not answer within" in l][0]
    else:
        report = next((l for l in text.splitlines() if "at the stop: group 1 (rank 2)" in l or "rank 2" in l),
                      "(no line names rank 2)")
    print(f"SIG{sig_name} of rank 2 after {writes} writes: exit {rc} after {took:.1f} s; {report.strip()[:300]}")
    p2 = run_t2(work, run, 3)
    check(p2.returncode == 0, f"the resumed run exit {p2.returncode}", p2)
    d = digest(run)
    check(d == reference(work), f"after SIG{sig_name} of a rank the resumed results differ: {d}", p2)
    print(f"resumed: identical results ({d})")



def heartbeat(work):
    """Deadlines bound silence, not work: `mpirun -np 3` with every kind's deadline (and the model load's)
    at 3 s, shorter than the campaign's longest items; the busy groups' heartbeats keep them alive, no
    group is declared hung, and the results equal the reference."""
    data_dir()
    run = os.path.join(work, "heartbeat")
    shutil.rmtree(run, ignore_errors=True)
    cmd = [*MPIRUN, "-np", "3", T2, "run", CAMPAIGN, "--no-progress", "timeouts.control_message=3",
           "timeouts.model_load=3"]
    p = subprocess.run(cmd, env=env_for(work, run), capture_output=True, text=True, timeout=900)
    text = p.stdout + p.stderr
    check(p.returncode == 0, f"exit {p.returncode}", p)
    check("did not answer" not in text, "a busy group that sends heartbeats was declared hung", p)
    groups = [(int(b), float(l)) for b, l in
              re.findall(r"item\(s\), ([0-9]+) heartbeat\(s\), longest item ([0-9.]+) s", text)]
    check(len(groups) == 2, "the coordinator should log every group's heartbeats", p)
    beats, longest = [b for b, _ in groups], [l for _, l in groups]
    # A busy group beats every quarter of its item's deadline (0.75 s here): a group whose longest item
    # lasted longer must have sent heartbeats. Whether any item lasts that long depends on the machine,
    # so only that implication is asserted, never that items are slow.
    for b, l in groups:
        check(l <= 2.0 or b > 0, f"a group busy for {l} s (over two heartbeat intervals) sent no heartbeat", p)
    d = digest(run)
    check(d == reference(work), f"different results: {d}", p)
    print(f"deadline 3 s, longest items {longest} s, heartbeats {beats}: no group taken for hung, identical results")
    if max(longest) <= 3:
        print("note: this machine ran every item within the deadline; the heartbeats were not needed this time")

def unshared(work):
    """A worker rank that cannot see rank 0's run directory: both ranks start in different directories
    (Open MPI's --wdir per app context) with a relative output, as two nodes without a shared file system
    would. Exit 2 at once, naming the rank and the file it could not see; no job starts."""
    data_dir()
    base = os.path.join(work, "unshared")
    shutil.rmtree(base, ignore_errors=True)
    a, b = os.path.join(base, "node-a"), os.path.join(base, "node-b")
    os.makedirs(a)
    os.makedirs(b)
    cmd = [T2, "run", CAMPAIGN, "--no-progress", "output=rel-run"]
    p = subprocess.run([*MPIRUN, "-np", "1", "--wdir", a, *cmd, ":", "-np", "1", "--wdir", b, *cmd],
                       env=env_for(work, "unused"), capture_output=True, text=True, timeout=300)
    text = p.stdout + p.stderr
    check(p.returncode == 2, f"a run directory not shared by every rank should exit 2, got {p.returncode}", p)
    check("not on a file system shared by every rank: rank 1 on" in text and ".t2-shared-check" in text,
          "the error should name rank 1 and the file it could not see", p)
    check(not os.path.exists(os.path.join(a, "rel-run", "jobs")), "no job may start", p)
    print("unshared run directory: exit 2 naming rank 1")

if __name__ == "__main__":
    mode, work = sys.argv[1], os.path.abspath(sys.argv[2])
    if mode == "setup":
        setup(work)
    elif mode == "mpi":
        mpi(work, int(sys.argv[3]))
    elif mode == "broken":
        broken(work)
    elif mode == "kill":
        kill(work, int(sys.argv[3]))
    elif mode == "rank":
        rank_failure(work, sys.argv[3])
    elif mode == "unshared":
        unshared(work)
    elif mode == "heartbeat":
        heartbeat(work)
    else:
        sys.exit("unknown mode " + mode)
