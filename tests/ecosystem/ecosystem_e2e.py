#!/usr/bin/python3
"""End-to-end tests of how t2 fits the tools researchers already use. Real processes throughout: the
t2 binary, a Hugging Face cache laid out by hand exactly as huggingface_hub writes it, h5py.

  ecosystem_e2e.py setup     WORK   two random fixture checkpoints as two revisions of one Hub id in a
                                    cache (blobs named by their sha256, snapshot files as relative
                                    symlinks into blobs/, refs/main and refs/v2), then eco.yaml (the
                                    model given by that id) run in one process: the snapshot hash is
                                    recorded in run.h5; a resume after refs/main moved is refused
  ecosystem_e2e.py hf_cache  WORK   t2 generate / logprobs / decompose / plan given the id: identical
                                    to the same commands on the folders; --revision picks the other
                                    snapshot; HF_HOME/hub is found too; a miss exits 2 naming the
                                    places looked at and the download command
  ecosystem_e2e.py safetensors WORK  the run's experts exported as safetensors (read by hand here: z
                                    under the model's tensor names, the metadata), imported back:
                                    identical z, and identical generations with either form
  ecosystem_e2e.py tensorboard WORK  the run's TensorBoard event files decoded by an independent reader
                                    (TFRecord framing and CRC-32C here, the Event/Summary messages
                                    declared here and parsed by python3-protobuf): every value equals
                                    the HDF5 curves (h5py), no (tag, step) twice; a torn last record is
                                    skipped by the reader
  ecosystem_e2e.py lm_eval   WORK   t2 export --format lm-eval: per model x method a results_<date>.json
                                    with lm-eval's keys and metric names and a samples_<task>_<date>.jsonl
                                    per task, checked field by field against the HDF5 records (h5py):
                                    prompt text, response, extracted answer, score, sha256 hashes
Env: T2_BIN, T2_SOURCE_DIR, T2_DATA_DIR (else ../shared beside the sources; missing data prints
SKIPPED and exits 0 so ctest's skip regex reports it).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("T2_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "../..")))
T2 = os.environ.get("T2_BIN", os.path.join(SRC, "build/bin/t2"))
PY = "/usr/bin/python3"
CAMPAIGN = os.path.join(HERE, "eco.yaml")
REPO_ID = "t2-test/tiny-llama"
COMMIT_A = hashlib.sha1(b"t2 eco revision a").hexdigest()
COMMIT_B = hashlib.sha1(b"t2 eco revision b").hexdigest()

# The data lookup (skipped without ../shared) and the failure report of the campaign e2e tests.
sys.path.insert(0, os.path.join(SRC, "tests", "coordinator", "campaign"))
from campaign_e2e import check, data_dir  # noqa: E402


def hub(work):
    return os.path.join(work, "hf", "hub")


def env_for(work, run=None, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    e.update({"HF_HUB_CACHE": hub(work), "T2_DATA_DIR": data_dir(), "OMP_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"})
    if run:
        e["T2_ECO_RUN"] = run
    e.update(extra)
    return {k: v for k, v in e.items() if v is not None}


def t2(args, env, timeout=600, cwd=None):
    return subprocess.run([T2, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def snapshot_dir(work, commit):
    return os.path.join(hub(work), "models--t2-test--tiny-llama", "snapshots", commit)


def lay_out_cache(work, folders):
    """The cache as huggingface_hub writes it: each file once under blobs/ (named by its sha256),
    every snapshot file a relative symlink ../../blobs/<sha256>, refs/<revision> holding the commit."""
    repo = os.path.join(hub(work), "models--t2-test--tiny-llama")
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    for commit, folder in folders.items():
        snap = os.path.join(repo, "snapshots", commit)
        os.makedirs(snap)
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
            sha = hashlib.sha256(data).hexdigest()
            blob = os.path.join(repo, "blobs", sha)
            if not os.path.exists(blob):
                with open(blob, "wb") as f:
                    f.write(data)
            os.symlink(os.path.join("..", "..", "blobs", sha), os.path.join(snap, name))
    for ref, commit in (("main", COMMIT_A), ("v2", COMMIT_B)):
        with open(os.path.join(repo, "refs", ref), "w") as f:
            f.write(commit)  # huggingface_hub writes the hash without a newline


def setup(work):
    dd = data_dir()
    shutil.rmtree(work, ignore_errors=True)
    folders = {}
    for commit, seed in ((COMMIT_A, 1), (COMMIT_B, 2)):
        d = os.path.join(work, "folders", commit[:8])
        subprocess.run([PY, os.path.join(SRC, "tests/workers/fixtures/make_fixture.py"), d, "--family", "llama3",
                        "--seed", str(seed), "--vocab", "128256", "--hidden", "32", "--intermediate", "64",
                        "--layers", "2", "--heads", "4", "--kv-heads", "2", "--tie"], check=True, timeout=120)
        for f in ("tokenizer.model", "tokenizer_config.json"):
            shutil.copy(os.path.join(dd, "tokenizers/llama3", f), d)
        folders[commit] = d
    lay_out_cache(work, folders)
    with open(os.path.join(work, "folders.json"), "w") as f:
        json.dump(folders, f)

    run = os.path.join(work, "run")
    p = t2(["run", CAMPAIGN, "--no-progress"], env_for(work, run), timeout=900)
    check(p.returncode == 0, f"t2 run exit {p.returncode}", p)
    check(f"is snapshot {COMMIT_A}" in p.stderr, "the log names the snapshot the id resolved to", p)
    import h5py
    with h5py.File(os.path.join(run, "run.h5"), "r") as f:
        resolved = json.loads(f["campaign/resolved"][0])
    hc = resolved["models"]["tiny"]["hf_cache"]
    check(resolved["models"]["tiny"]["path"] == REPO_ID, "the resolved campaign keeps the id as given")
    check(hc["repo_id"] == REPO_ID and hc["revision"] == "main" and hc["commit"] == COMMIT_A
          and hc["snapshot"] == snapshot_dir(work, COMMIT_A), f"run.h5 records the snapshot: {hc}")

    # The same run resumed after refs/main moved to another commit: refused, nothing changed.
    ref = os.path.join(hub(work), "models--t2-test--tiny-llama", "refs", "main")
    with open(ref, "w") as f:
        f.write(COMMIT_B)
    p = t2(["run", CAMPAIGN, "--no-progress"], env_for(work, run), timeout=300)
    with open(ref, "w") as f:
        f.write(COMMIT_A)
    check(p.returncode == 2 and COMMIT_A in p.stderr and COMMIT_B in p.stderr and "models.tiny.revision=" in p.stderr,
          f"a resume on a moved ref must be refused with exit 2, got {p.returncode}", p)
    # Pinned to the commit it started with, the finished run resumes (and has nothing left to do).
    p = t2(["run", CAMPAIGN, "--no-progress", f"models.tiny.revision={COMMIT_A}"], env_for(work, run), timeout=300)
    check(p.returncode == 0, f"a resume pinned to the recorded commit: exit {p.returncode}", p)
    print("campaign on a cached Hub id: ok")


def folders_of(work):
    with open(os.path.join(work, "folders.json")) as f:
        return json.load(f)


def hf_cache(work):
    data_dir()
    folders = folders_of(work)
    env = env_for(work)
    gen = ["--prompt-ids", "128000,791,4320", "--prompt-ids", "128000,16", "--max-new-tokens", "5", "--json"]

    def generations(model, *extra, env=env):
        p = t2(["generate", model, *gen, *extra], env)
        check(p.returncode == 0, f"t2 generate {model} {extra}: exit {p.returncode}", p)
        out = json.loads(p.stdout)
        return [g["ids"] for g in out["generations"]], out

    by_folder_a, _ = generations(folders[COMMIT_A])
    by_folder_b, _ = generations(folders[COMMIT_B])
    check(by_folder_a != by_folder_b, "the two fixture checkpoints must generate differently")
    by_id, out = generations(REPO_ID)
    check(by_id == by_folder_a and out["snapshot"] == COMMIT_A, f"id at main = folder a: {out['snapshot']}")
    by_rev, out = generations(REPO_ID, "--revision", "v2")
    check(by_rev == by_folder_b and out["snapshot"] == COMMIT_B, "--revision v2 = folder b")
    by_commit, _ = generations(REPO_ID, "--revision", COMMIT_B)
    check(by_commit == by_folder_b, "--revision <commit> = folder b")
    home_env = env_for(work, HF_HUB_CACHE=None, HF_HOME=os.path.dirname(hub(work)))
    by_home, _ = generations(REPO_ID, env=home_env)
    check(by_home == by_folder_a, "HF_HOME/hub is the cache when HF_HUB_CACHE is unset")

    lp = ["--prompt-ids", "128000,791", "--continuation-ids", "4320,374", "--json"]
    a = t2(["logprobs", folders[COMMIT_A], *lp], env)
    b = t2(["logprobs", REPO_ID, *lp], env)
    check(a.returncode == 0 and b.returncode == 0, "t2 logprobs", b)
    check(json.loads(a.stdout)["results"] == json.loads(b.stdout)["results"], "logprobs by id = by folder")

    # t2 plan on a campaign naming the id, and --model-config given the id.
    # (The campaign's 1 GB GPUs are too small for a 128k vocabulary: exit 1 says "does not fit", after
    # reading the shape from the snapshot's config.json: 2 layers x 3 MLP matrices x rank 32.)
    p = t2(["plan", CAMPAIGN, "--json"], env_for(work, os.path.join(work, "plan-run")))
    check(p.returncode in (0, 1) and '"z_count": 192' in p.stdout, f"t2 plan on the campaign: exit {p.returncode}", p)
    q = t2(["plan", "--model-config", REPO_ID, "--json"], env)
    check(q.returncode == 0 and '"z_count": 192' in q.stdout, f"t2 plan --model-config ID: exit {q.returncode}", q)

    # t2 decompose by id (into a folder of our own: the cache is left as huggingface_hub wrote it).
    svd = os.path.join(work, "svd-by-id")
    shutil.rmtree(svd, ignore_errors=True)
    p = t2(["decompose", REPO_ID, "--revision", "v2", "--out", svd], env)
    check(p.returncode == 0 and f"is snapshot {COMMIT_B}" in p.stdout and os.listdir(svd), "t2 decompose ID", p)

    # Misses: exit 2, every place named, and how to fetch the model.
    p = t2(["generate", "t2-test/absent", *gen], env)
    check(p.returncode == 2, f"a missing id exits 2, got {p.returncode}", p)
    for s in ("./t2-test/absent (no such folder)", os.path.join(hub(work), "models--t2-test--absent/refs/main"),
              "huggingface-cli download t2-test/absent"):
        check(s in p.stderr, f"the miss names {s!r}", p)
    p = t2(["generate", REPO_ID, "--revision", "v9", *gen], env)
    check(p.returncode == 2 and "refs/v9 (no such ref)" in p.stderr and "--revision v9" in p.stderr,
          "a missing revision names the ref and the download command", p)
    p = t2(["run", CAMPAIGN, "--no-progress", "models.tiny.path=t2-test/absent"],
           env_for(work, os.path.join(work, "absent-run")))
    check(p.returncode == 2 and "models.tiny.path" in p.stderr and "huggingface-cli download t2-test/absent" in p.stderr,
          "a campaign naming a missing id exits 2 naming the key", p)
    check(not os.path.exists(os.path.join(work, "absent-run")), "nothing is written for a campaign that fails to load")
    print("t2 generate / logprobs / decompose / plan on a cached Hub id: ok")


def read_safetensors(path):
    """An independent reader: 8-byte little-endian header length, the JSON header, raw data."""
    import struct
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        check(t["dtype"] == "F32", f"{path}: {name} is {t['dtype']}")
        b, e = t["data_offsets"]
        tensors[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(t["shape"])
    return tensors, meta


def safetensors(work):
    data_dir()
    import h5py
    import numpy as np
    run = os.path.join(work, "run")
    out = os.path.join(work, "st")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    env = env_for(work)
    model_tensors, _ = read_safetensors(os.path.join(snapshot_dir(work, COMMIT_A), "model.safetensors"))
    files = {}
    # Three REINFORCE steps barely move z on a random model; a copy of the gsm8k expert with z drawn far
    # from 1 changes the generations, so "identical generations" below says something.
    strong = os.path.join(out, "strong.h5")
    shutil.copy(os.path.join(run, "jobs", "train_expert~tiny~gsm8k~seed7", "expert.h5"), strong)
    rng = np.random.default_rng(3)
    with h5py.File(strong, "r+") as f:
        for n in f["z"]:
            f["z"][n][...] = rng.normal(0.0, 2.0, f["z"][n].shape).astype(np.float32)
    for task in ("gsm8k", "arc_easy"):
        h5 = strong if task == "gsm8k" else os.path.join(run, "jobs", f"train_expert~tiny~{task}~seed7", "expert.h5")
        st = os.path.join(out, f"{task}.safetensors")
        back = os.path.join(out, f"{task}.h5")
        p = t2(["experts", "export", h5, "--format", "safetensors", "--out", st], env)
        check(p.returncode == 0 and os.path.exists(st), f"t2 experts export {task}", p)
        p = t2(["experts", "import", st, "--out", back], env)
        check(p.returncode == 0 and os.path.exists(back), f"t2 experts import {task}", p)
        tensors, meta = read_safetensors(st)
        with h5py.File(h5, "r") as a, h5py.File(back, "r") as b:
            names = [n.decode() if isinstance(n, bytes) else n for n in a["matrices/names"][:]]
            check(json.loads(meta["matrices"]) == [n + ".weight" for n in names], "metadata lists the matrices")
            check(sorted(tensors) == sorted(n + ".weight" for n in names), "one tensor per matrix")
            for n in names:
                check(n + ".weight" in model_tensors, f"{n}.weight is the model's own tensor name")
                za, zb = a["z"][n][:], b["z"][n][:]
                check(za.dtype == np.float32 and np.array_equal(za.view(np.uint32), tensors[n + ".weight"].view(np.uint32)),
                      f"{task} {n}: the exported z is the expert's, bit for bit")
                check(np.array_equal(za.view(np.uint32), zb.view(np.uint32)), f"{task} {n}: import gives back the same z")
            for key in ("base_model_hash", "task", "method", "config"):
                v = a.attrs[key]
                v = v.decode() if isinstance(v, bytes) else v
                check(meta[key] == v, f"metadata {key}: {meta[key]!r} vs {v!r}")
                w = b.attrs[key]
                check((w.decode() if isinstance(w, bytes) else w) == v, f"imported {key}")
            check(meta["base_model"] == f"{REPO_ID}@{COMMIT_A}", f"base model named by id and snapshot: {meta['base_model']}")
            curve = json.loads(meta["curve"])
            for field in ("step", "reward_mean", "loss", "lr"):
                check(np.array_equal(np.array(curve[field], dtype=float), a["curve"][field][:]), f"curve {field}")
        files[task] = (h5, st, back)

    # Identical generations with the .h5, the exported .safetensors and the re-imported .h5.
    svd = os.path.join(run, "svd", "tiny")
    outs = []
    for k in range(3):
        experts = ",".join(files[t][k] for t in ("gsm8k", "arc_easy"))
        p = t2(["generate", REPO_ID, "--experts", experts, "--svd", svd, "--adapt", "prompt", "--label", "math",
                "--prompt-ids", "128000,791,4320", "--prompt-ids", "128000,16", "--max-new-tokens", "6", "--json"], env)
        check(p.returncode == 0, f"t2 generate --experts ({['h5', 'safetensors', 'imported h5'][k]})", p)
        outs.append([g["ids"] for g in json.loads(p.stdout)["generations"]])
    check(outs[0] == outs[1] == outs[2], f"generations differ between the forms: {outs}")
    base = t2(["generate", REPO_ID, "--prompt-ids", "128000,791,4320", "--prompt-ids", "128000,16",
               "--max-new-tokens", "6", "--json"], env)
    base_ids = [g["ids"] for g in json.loads(base.stdout)["generations"]]
    check(outs[0] != base_ids, f"the expert must change the generations: {outs[0]} vs base {base_ids}")
    p = t2(["experts", "import", files["gsm8k"][0]], env)
    check(p.returncode == 2 and "not a safetensors file" in p.stderr, "importing an .h5 is a usage error", p)
    print("experts as safetensors: ok")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecords(raw):
    """(records, torn): the framing TensorFlow's record_reader checks; stops at a torn last record."""
    import struct
    out, at = [], 0
    while at < len(raw):
        if len(raw) - at < 12:
            return out, True
        (n,) = struct.unpack("<Q", raw[at:at + 8])
        (lc,) = struct.unpack("<I", raw[at + 8:at + 12])
        if lc != masked(raw[at:at + 8]) or len(raw) - at - 12 < n + 4:
            return out, True
        data = raw[at + 12:at + 12 + n]
        (dc,) = struct.unpack("<I", raw[at + 12 + n:at + 16 + n])
        if dc != masked(data):
            return out, True
        out.append(data)
        at += 16 + n
    return out, False


def event_class():
    """tensorflow.Event / Summary / Summary.Value as event.proto and summary.proto define the fields
    t2 writes, built at run time: no TensorFlow needed."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="t2_test_tensorflow_event.proto", package="tensorflow",
                                             syntax="proto3")
    summary = fdp.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL)
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                      type_name=".tensorflow.Summary.Value")
    event = fdp.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                    type_name=".tensorflow.Summary", oneof_index=0)
    event.oneof_decl.add(name="what")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("tensorflow.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def read_events(folder):
    """{tag: [(step, value)]} of every event file in a job's folder, and the first event."""
    Event = event_class()
    files = sorted(f for f in os.listdir(folder) if f.startswith("events.out.tfevents."))
    check(len(files) == 1, f"{folder}: one event file per job, found {files}")
    with open(os.path.join(folder, files[0]), "rb") as f:
        raw = f.read()
    records, torn = tfrecords(raw)
    check(not torn, f"{folder}: the event file of a finished run ends with a whole record")
    events = []
    for r in records:
        e = Event()
        e.ParseFromString(r)
        events.append(e)
    check(events and events[0].file_version == "brain.Event:2", f"{folder}: starts with file_version brain.Event:2")
    scalars = {}
    for e in events[1:]:
        check(e.HasField("summary") and e.wall_time > 1.6e9, f"{folder}: a summary event with a wall time")
        for v in e.summary.value:
            scalars.setdefault(v.tag, []).append((e.step, v.simple_value))
    for tag, pts in scalars.items():
        steps = [s for s, _ in pts]
        check(steps == sorted(set(steps)), f"{folder}: {tag} steps repeat or go back: {steps}")
    return scalars, raw


def tensorboard(work):
    data_dir()
    import h5py
    import numpy as np
    run = os.path.join(work, "run")
    tb = os.path.join(run, "tensorboard")
    jobs = sorted(os.listdir(os.path.join(run, "jobs")))
    seen = set()

    def same(tag, got, want_steps, want_values):
        f32 = [float(np.float32(v)) for v in want_values]
        check([s for s, _ in got] == list(want_steps), f"{tag}: steps {[s for s, _ in got]} vs {list(want_steps)}")
        check([v for _, v in got] == f32, f"{tag}: values {[v for _, v in got]} vs HDF5 {f32}")

    for job in jobs:
        jdir = os.path.join(run, "jobs", job)
        folder = os.path.join(tb, job)
        if job.startswith("decompose"):
            check(not os.path.exists(folder), f"{job}: no curves, no event file")
            continue
        check(os.path.isdir(folder), f"{job}: no TensorBoard folder {folder}")
        scalars, raw = read_events(folder)
        seen.add(job)
        if job.startswith("train_expert"):
            with h5py.File(os.path.join(jdir, "expert.h5"), "r") as f:
                c = {k: f["curve"][k][:] for k in f["curve"]}
            check(len(c["step"]) == 3, f"{job}: 3 training steps in expert.h5")
            for field in ("reward_mean", "reward_std", "loss", "kl", "grad_norm", "lr"):
                same(f"{job} train/{field}", scalars[f"train/{field}"], c["step"].astype(int), c[field])
            ok = np.isfinite(c["validation"])
            check(ok.any(), f"{job}: validated at some step")
            same(f"{job} train/validation", scalars["train/validation"], c["step"][ok].astype(int), c["validation"][ok])
            check(set(scalars) == {f"train/{k}" for k in ("reward_mean", "reward_std", "loss", "kl", "grad_norm", "lr",
                                                          "validation")}, f"{job}: tags {sorted(scalars)}")
        elif job.startswith("fewshot_search"):
            gens = sorted(g for g in os.listdir(jdir) if g.startswith("cem-gen-") and g.endswith(".h5"))
            steps, best, mean = [], [], []
            for g in gens:
                with h5py.File(os.path.join(jdir, g), "r") as f:
                    steps.append(int(f.attrs["generation"]))
                    best.append(float(f.attrs["best_score"]))
                    mean.append(float(np.mean(f["population_scores"][:])))
            check(len(steps) == 2, f"{job}: 2 generations in HDF5")
            same(f"{job} search/best_score", scalars["search/best_score"], steps, best)
            same(f"{job} search/mean_score", scalars["search/mean_score"], steps, mean)
        elif job.startswith("evaluate"):
            with h5py.File(os.path.join(jdir, "result.h5"), "r") as f:
                acc, se = float(f.attrs["accuracy"]), float(f.attrs["standard_error"])
            same(f"{job} eval/accuracy", scalars["eval/accuracy"], [0], [acc])
            same(f"{job} eval/standard_error", scalars["eval/standard_error"], [0], [se])

        # A reader meets a torn last record (a kill mid-write): it keeps every whole record before it.
        rec, torn = tfrecords(raw + raw[-20:-3])
        check(torn and len(rec) == len(tfrecords(raw)[0]), f"{job}: a torn tail is skipped")
    check(len([j for j in seen if j.startswith("train_expert")]) == 2 and any(j.startswith("fewshot") for j in seen)
          and len([j for j in seen if j.startswith("evaluate")]) == 7, f"jobs with event files: {sorted(seen)}")
    print(f"TensorBoard event files of {len(seen)} jobs decoded and equal to the HDF5 curves: ok")


def lm_eval(work):
    dd = data_dir()
    sys.path.insert(0, HERE)
    import lm_eval_check
    run = os.path.join(work, "run")
    out = os.path.join(work, "lm-eval")
    shutil.rmtree(out, ignore_errors=True)
    try:
        cells = lm_eval_check.export_and_check(T2, run, out, env_for(work))
    except lm_eval_check.Mismatch as e:
        check(False, str(e))
    expected = {("base", "gsm8k"), ("base", "arc_easy"), ("svf", "gsm8k"), ("svf", "arc_easy"),
                ("t2_prompt", "gsm8k"), ("t2_prompt", "arc_easy"), ("t2_fewshot", "arc_easy")}
    check({(m, t) for (_, m, _, t) in cells} == expected, f"exported cells {sorted(cells)}")
    folders = sorted(os.listdir(out))
    check(folders == sorted(f"t2-test__tiny-llama__{m}" for m in ("base", "svf", "t2_prompt", "t2_fewshot")),
          f"one folder per model x method: {folders}")
    with open(os.path.join(out, folders[0], [f for f in os.listdir(os.path.join(out, folders[0]))
                                             if f.startswith("results_")][0])) as f:
        res = json.load(f)
    check(res["config"]["model_args"].startswith(f"pretrained={REPO_ID},revision={COMMIT_A},"),
          f"model_args name the id and the snapshot: {res['config']['model_args']}")
    with open(os.path.join(dd, "data/gsm8k/test.jsonl")) as f:
        questions = [json.loads(line)["question"] for line in f]
    for (_, m, _, t), (_, samples) in cells.items():
        check(len(samples) == 6, f"{m} {t}: 6 samples")
        if t == "gsm8k":
            for s_ in samples:
                check(questions[s_["doc_id"]] in s_["arguments"][0][0], f"{m}: the question is in the prompt text")
    # Exported twice: the same files, the same bytes (the names carry the run's date, not the clock).
    def snapshot():
        return {os.path.join(r, f): open(os.path.join(r, f), "rb").read() for r, _, fs in os.walk(out) for f in fs}
    before = snapshot()
    p = t2(["export", run, "--format", "lm-eval", "--out", out], env_for(work))
    check(p.returncode == 0 and before == snapshot(), "a second export gives the same files", p)
    p = t2(["export", os.path.join(work, "folders"), "--format", "lm-eval", "--out", out], env_for(work))
    check(p.returncode == 2, f"exporting a folder that is not a run exits 2, got {p.returncode}", p)
    print(f"lm-eval export of {len(cells)} evaluations checked field by field: ok")


def main():
    mode, work = sys.argv[1], os.path.abspath(sys.argv[2])
    {"setup": setup, "hf_cache": hf_cache, "safetensors": safetensors, "tensorboard": tensorboard,
     "lm_eval": lm_eval}[mode](work)


if __name__ == "__main__":
    main()
