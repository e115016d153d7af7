#!/usr/bin/python3
"""The baselines, ablations and layer subsets of `t2 run` on the quickstart's tiny model
(tests/quickstart/baselines.yaml). Real processes throughout: the t2 binary, mpirun, h5py.

  baselines_campaign.py setup  WORK   quickstart-init (once), then the reference run, and its checks:
      LoRA next-token training lowers the training loss far beyond its step-to-step noise; the adapters
      are in PEFT's layout (adapter_config.json keys, safetensors names and shapes from the model's
      config) for LoRA and IA3; the evaluations read the adapters; the unseen task's LoRA cell chose the
      training-task adapter best on the unseen task's valid split and recorded it (selection.h5); SVF
      with the next-token objective on attention and SVF on layer 0 only leave every other matrix's z
      uniform (W unchanged); `t2 table --layout ablation` shows the labelled rows; a finished run re-run
      changes nothing
  baselines_campaign.py resume WORK   the same campaign killed (SIGKILL) while a train_peft job is between
      checkpoints, then resumed: identical results (every HDF5 dataset and the adapters' bytes)
  baselines_campaign.py mpi    WORK   `mpirun -np 3` (two worker groups share each step's gradient
      shards): identical results
  baselines_campaign.py tp2    WORK   the LoRA and IA3 train_peft jobs with the model at tp 2 (`mpirun -np 3`:
      the coordinator and one group of two ranks): the saved adapters equal the reference run's (tp 1)
      within fp32 reduction-order differences
  baselines_campaign.py refuse WORK   keys that cannot take effect are refused with exit 2 and a message
      naming them

Env: T2_BIN, T2_SOURCE_DIR. The helpers shared with the e2e campaign (check, run_t2, digest, keep_reference,
reference) come from tests/coordinator/campaign/campaign_e2e.py, found from this file's own location.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# located from this file, not T2_SOURCE_DIR, so a run by hand finds it too
sys.path.insert(0, os.path.join(HERE, "..", "coordinator", "campaign"))
import campaign_e2e as e2e  # noqa: E402
from campaign_e2e import T2, check, reference  # noqa: E402

CAMPAIGN = os.path.join(HERE, "baselines.yaml")


def env_for(work):
    return e2e.t2_env(T2_QUICKSTART_DIR=os.path.join(work, "assets"),
                        T2_QUICKSTART_B_DIR=os.path.join(work, "assets-b"))


def run_t2(work, run, *extra, np_=1, timeout=1800, campaign=CAMPAIGN):
    """baselines.yaml (or `campaign`) run into `run` (output=run), from the work folder."""
    return e2e.run_t2(work, run, np_, timeout, campaign=campaign, args=[f"output={run}", *extra], env=env_for(work),
                      cwd=work)


def job_dir(run, job_id):
    """The job's folder; a job id may be given by its prefix up to a non-default setting's suffix."""
    d = os.path.join(run, "jobs", job_id.replace("/", "~"))
    if os.path.isdir(d) or not os.path.isdir(os.path.join(run, "jobs")):
        return d
    pre = job_id.replace("/", "~") + "~"
    found = [f for f in os.listdir(os.path.join(run, "jobs")) if f.startswith(pre)]
    return os.path.join(run, "jobs", found[0]) if len(found) == 1 else d


def digest(run):
    """run_digest.py over the HDF5 files (campaign_e2e's digest), plus the bytes of every PEFT adapter file."""
    h = hashlib.sha256(e2e.digest(run).encode())
    for root, _, files in sorted(os.walk(os.path.join(run, "jobs"))):
        if os.path.basename(root) != "adapter":
            continue
        for f in sorted(files):
            h.update(os.path.relpath(os.path.join(root, f), run).encode())
            with open(os.path.join(root, f), "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
    head.pop("__metadata__", None)
    return head


def quickstart_init(work, name, *args):
    assets = os.path.join(work, name)
    if os.path.exists(os.path.join(assets, "quickstart.json")):
        return assets
    shutil.rmtree(assets, ignore_errors=True)
    p = subprocess.run([T2, "quickstart-init", assets, *args], env=env_for(work), capture_output=True, text=True,
                       timeout=1500)
    check(p.returncode == 0, f"quickstart-init {name} exit {p.returncode}", p)
    return assets


def init_assets(work):
    """The quickstart's model and data (model A), and model B: the same shapes, another seed (its own
    data sample, tokenizer merges and weights), briefly trained: enough for transfer to be a question
    of shapes, not of skill."""
    quickstart_init(work, "assets")
    quickstart_init(work, "assets-b", "--seed", "2", "--steps", "300", "--no-eval")


def job_params(run, job_id):
    import h5py
    with h5py.File(os.path.join(job_dir(run, job_id), "job.h5"), "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f["params"].attrs.items()}


def check_peft_layout(run, job_id, model_cfg, method):
    d = os.path.join(job_dir(run, job_id), "adapter")
    cfg = json.load(open(os.path.join(d, "adapter_config.json")))
    head = safetensors_header(os.path.join(d, "adapter_model.safetensors"))
    hidden, layers = model_cfg["hidden_size"], model_cfg["num_hidden_layers"]
    kv = model_cfg.get("num_key_value_heads", model_cfg["num_attention_heads"]) * (hidden // model_cfg["num_attention_heads"])
    inter = model_cfg["intermediate_size"]
    if method == "lora":
        check(cfg["peft_type"] == "LORA" and cfg["r"] == 16 and cfg["lora_alpha"] == 32 and
              abs(cfg["lora_dropout"] - 0.05) < 1e-12 and sorted(cfg["target_modules"]) == ["q_proj", "v_proj"],
              f"{job_id}: adapter_config.json is not the paper's LoRA: {cfg}")
        want = {}
        for l in range(layers):
            for m, out in (("q_proj", hidden), ("v_proj", kv)):
                pre = f"base_model.model.model.layers.{l}.self_attn.{m}"
                want[pre + ".lora_A.weight"] = [16, hidden]
                want[pre + ".lora_B.weight"] = [out, 16]
    else:
        check(cfg["peft_type"] == "IA3" and sorted(cfg["target_modules"]) == ["down_proj", "k_proj", "v_proj"] and
              cfg["feedforward_modules"] == ["down_proj"], f"{job_id}: adapter_config.json is not PEFT's IA3: {cfg}")
        want = {}
        for l in range(layers):
            want[f"base_model.model.model.layers.{l}.self_attn.k_proj.ia3_l"] = [kv, 1]
            want[f"base_model.model.model.layers.{l}.self_attn.v_proj.ia3_l"] = [kv, 1]
            want[f"base_model.model.model.layers.{l}.mlp.down_proj.ia3_l"] = [1, inter]
    got = {k: v["shape"] for k, v in head.items()}
    check(got == want, f"{job_id}: safetensors names/shapes differ from PEFT's: {sorted(set(got) ^ set(want))[:6]}")
    check(all(v["dtype"] == "F32" for v in head.values()), f"{job_id}: adapter tensors are not float32")
    return cfg


def setup(work):
    import h5py
    os.makedirs(work, exist_ok=True)
    init_assets(work)
    run = os.path.join(work, "reference")
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.time()
    p = run_t2(work, run)
    check(p.returncode == 0, f"one-process run exit {p.returncode}", p)
    print(f"reference run: {time.time() - t0:.1f} s")
    model_cfg = json.load(open(os.path.join(work, "assets", "model", "config.json")))

    # LoRA next-token training lowers the loss on the tiny model far beyond its noise
    lj = "train_peft/tiny/arith/lora/seed1"
    ck = sorted(f for f in os.listdir(job_dir(run, lj)) if f.startswith("ckpt-"))
    with h5py.File(os.path.join(job_dir(run, lj), ck[-1]), "r") as f:
        loss = list(f["curve/loss"][:])
    check(len(loss) == 6, f"{lj}: {len(loss)} curve points, expected 6")
    steps = [abs(loss[i + 1] - loss[i]) for i in range(len(loss) - 1)]
    print(f"{lj}: next-token loss {' '.join(f'{x:.3f}' for x in loss)}")
    check(loss[-1] < 0.7 * loss[0], f"{lj}: loss {loss[0]:.3f} -> {loss[-1]:.3f} did not fall by 30%")

    # the adapters in PEFT's layout
    for job, method in (("train_peft/tiny/arith/lora/seed1", "lora"), ("train_peft/tiny/choice/lora/seed1", "lora"),
                        ("train_peft/tiny/arith/ia3/seed1", "ia3"), ("train_peft/tiny/arith/lora/seed1", "lora")):
        check_peft_layout(run, job, model_cfg, method)
        with h5py.File(os.path.join(job_dir(run, job), "result.h5"), "r") as f:
            check("metrics" in f or len(f.keys()) > 0, f"{job}: result.h5 is empty")
    # the jobs record their objective and method
    jp = job_params(run, "train_peft/tiny/arith/lora/seed1")
    check(jp.get("objective") == "next_token" and jp.get("method") == "lora", f"lora job params {jp}")
    check(job_params(run, "train_expert/tiny/arith/seed1").get("objective") == "next_token", "svf_nt objective")

    # cross-model transfer: recorded in the run, shown under its keys, ordered and shuffled differ
    xo = "evaluate/tiny_b/arith/svf_transfer_ordered/seed1"
    xs = "evaluate/tiny_b/arith/svf_transfer_shuffled/seed1"
    for job, order in ((xo, "ordered"), (xs, "shuffled")):
        jp = job_params(run, job)
        check(jp.get("transfer_from") == "tiny" and jp.get("sigma_order") == order and
              jp.get("method") == f"svf_transfer_{order}" and jp.get("evaluated_method") == "svf",
              f"{job}: params {jp}")

    # evaluations with the adapters: every test example scored
    for job in ("evaluate/tiny/arith/lora/seed1", "evaluate/tiny/choice/lora/seed1", "evaluate/tiny/arith/ia3/seed1",
                "evaluate/tiny/arith/lora_pg/seed1", "evaluate/tiny/arith/svf_nt_attn/seed1",
                "evaluate/tiny/arith_choice/lora/seed1"):
        check(os.path.exists(os.path.join(job_dir(run, job), "DONE")), f"{job} did not finish")
    acc = {}
    for line in p.stderr.splitlines():
        m = re.search(r"done (evaluate/\S+) (\{.*\})", line)
        if m:
            acc[m[1]] = json.loads(m[2])
    for jid in ("evaluate/tiny/arith/lora/seed1", "evaluate/tiny/arith/base/seed1"):
        check(jid in acc and acc[jid]["n"] == 32, f"{jid}: expected 32 scored examples, got {acc.get(jid)}")
    # a LoRA that learnt something changes the answers
    def responses(job):
        out = []
        for f in sorted(os.listdir(job_dir(run, job))):
            if f.startswith("eval-"):
                with h5py.File(os.path.join(job_dir(run, job), f), "r") as h:
                    out += [r.decode() if isinstance(r, bytes) else r for r in h["records/response"][:]]
        return out
    check(responses("evaluate/tiny/arith/lora/seed1") != responses("evaluate/tiny/arith/base/seed1"),
          "the LoRA evaluation answered exactly as the base model")
    check(responses(xo) != responses(xs), "ordered and shuffled transfer answered identically")

    # the unseen task's LoRA cell: the training-task adapter best on arith_choice's valid split
    sel = os.path.join(job_dir(run, "evaluate/tiny/arith_choice/lora/seed1"), "selection.h5")
    with h5py.File(sel, "r") as f:
        cands = [c.decode() if isinstance(c, bytes) else c for c in f["candidates"][:]]
        va = list(f["valid_accuracy"][:])
        chosen = f.attrs["chosen"]
        chosen = chosen.decode() if isinstance(chosen, bytes) else chosen
        on = f.attrs["selected_on"]
        on = on.decode() if isinstance(on, bytes) else on
    check(cands == ["train_peft/tiny/arith/lora/seed1", "train_peft/tiny/choice/lora/seed1"], f"candidates {cands}")
    best = max(range(len(va)), key=lambda i: (va[i], -i))
    check(chosen == cands[best], f"chose {chosen}, but the valid accuracies are {va}")
    check("valid split" in on and "arith_choice" in on, f"selected_on says {on}")
    print(f"unseen task: chose {chosen} (valid accuracy {va})")

    # SVF subsets: matrices outside the expert's modules / layers keep a uniform z (W unchanged)
    for job, trained in (("train_expert/tiny/arith/seed1", lambda n: n.endswith(("q_proj", "v_proj"))),
                         ("train_expert/tiny/choice/seed1",
                          lambda n: ".layers.0." in n and n.endswith(("gate_proj", "up_proj", "down_proj")))):
        with h5py.File(os.path.join(job_dir(run, job), "expert.h5"), "r") as f:
            names = [n.decode() if isinstance(n, bytes) else n for n in f["matrices/names"][:]]
            zs = {n: f["z"][n][:] for n in names}
        check(len(names) == 10, f"{job}: the decomposition of MLP and attention has 10 matrices, got {len(names)}")
        moved, still = 0, 0
        for n in names:
            seg = zs[n]
            if trained(n):
                moved += int(seg.max() != seg.min())
            else:
                check(seg.max() == seg.min(), f"{job}: matrix {n} is outside the expert's subset but its z moved")
                still += 1
        check(moved > 0 and still > 0, f"{job}: {moved} trained and {still} untouched matrices")
        print(f"{job}: {moved} matrices trained, {still} left uniform")

    # Table 4's shape from the labelled evaluations
    t = subprocess.run([T2, "table", run, "--layout", "ablation"], capture_output=True, text=True, timeout=120)
    check(t.returncode == 0, "t2 table --layout ablation", t)
    out = t.stdout
    check("LoRA" in out and "policy gradient" in out and "next-token" in out and "SVF" in out,
          "the ablation table lacks the LoRA policy-gradient or SVF next-token rows:\n" + out, t)
    print(out)
    t = subprocess.run([T2, "table", run], capture_output=True, text=True, timeout=120)
    check(t.returncode == 0 and "LoRA" in t.stdout and "IA3" in t.stdout, "t2 table lacks LoRA / IA3 rows", t)
    print(t.stdout)

    e2e.keep_reference(work, run, lambda: run_t2(work, run), digest)


def resume(work):
    run = os.path.join(work, "resume")
    shutil.rmtree(run, ignore_errors=True)
    target = job_dir(run, "train_peft/tiny/choice/lora/seed1")
    cmd = [T2, "run", CAMPAIGN, f"output={run}", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env_for(work), cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    killed = False
    deadline = time.time() + 1500
    while proc.poll() is None and time.time() < deadline:
        ck = [f for f in os.listdir(target) if f.startswith("ckpt-")] if os.path.isdir(target) else []
        if any(int(f[5:11]) >= 2 for f in ck) and not os.path.exists(os.path.join(target, "DONE")):
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    proc.wait()
    check(killed, "the run finished before the LoRA job could be killed between checkpoints")
    p = run_t2(work, run)
    check(p.returncode == 0, f"resumed run exit {p.returncode}", p)
    check("resume train_peft/tiny/choice/lora/seed1 from step" in p.stderr, "the LoRA job did not resume", p)
    d = digest(run)
    check(d == reference(work), f"the resumed run computed different results: {d} vs {reference(work)}", p)
    print(f"killed mid-training and resumed: identical results ({d})")


def mpi(work):
    run = os.path.join(work, "mpi3")
    shutil.rmtree(run, ignore_errors=True)
    p = run_t2(work, run, np_=3)
    check(p.returncode == 0, f"mpirun -np 3 exit {p.returncode}", p)
    d = digest(run)
    check(d == reference(work), f"mpirun -np 3 computed different results: {d} vs {reference(work)}", p)
    print(f"mpirun -np 3: identical results ({d})")


def safetensors_arrays(path):
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        blob = f.read()
    head.pop("__metadata__", None)
    out = {}
    for k, v in head.items():
        check(v["dtype"] == "F32", f"{path}: {k} is {v['dtype']}, expected F32")
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(blob[a:b], dtype="<f4").reshape(v["shape"]).astype(np.float64)
    return out


def tp2_campaign(work):
    """baselines.yaml cut to the tiny model at tp 2 and the LoRA (arith) and IA3 jobs: the same job ids,
    settings and data as the reference run's."""
    text = open(CAMPAIGN).read()
    head, _, exps = text.partition("\nexperiments:\n")
    head = re.sub(r"\n  tiny_b:.*?\n(?=\S)", "\n", head, flags=re.S)  # tiny_b: only the transfer needs it
    check(head.count("tp: 1") == 1, "baselines.yaml: expected one model at tp 1 after cutting tiny_b")
    head = head.replace("tp: 1", "tp: 2")
    blocks = re.split(r"\n(?=  - name: )", "\n" + exps)
    keep = [b for b in blocks if re.match(r"\s*- name: (lora|ia3)\n", b)]
    check(len(keep) == 2, f"baselines.yaml: expected the lora and ia3 experiments, found {len(keep)}")
    keep[0] = keep[0].replace("tasks: [arith, choice]", "tasks: [arith]")
    path = os.path.join(work, "baselines-tp2.yaml")
    with open(path, "w") as f:
        f.write(head + "\nexperiments:\n" + "\n".join(b.strip("\n") for b in keep) + "\n")
    return path


def tp2(work):
    import numpy as np
    run = os.path.join(work, "tp2")
    shutil.rmtree(run, ignore_errors=True)
    campaign = tp2_campaign(work)
    p = run_t2(work, run, np_=3, campaign=campaign)
    check(p.returncode == 0, f"mpirun -np 3 at tp 2 exit {p.returncode}", p)
    check("1 group(s) x tp 2" in p.stderr, "the run was not placed as one worker group at tp 2", p)
    ref = os.path.join(work, "reference")
    for job in ("train_peft/tiny/arith/lora/seed1", "train_peft/tiny/arith/ia3/seed1"):
        got_dir, want_dir = os.path.join(job_dir(run, job), "adapter"), os.path.join(job_dir(ref, job), "adapter")
        check(os.path.isdir(want_dir), f"{job}: no reference adapter: the setup test did not run")
        cfg_got = json.load(open(os.path.join(got_dir, "adapter_config.json")))
        cfg_want = json.load(open(os.path.join(want_dir, "adapter_config.json")))
        check(cfg_got == cfg_want, f"{job}: adapter_config.json differs at tp 2: {cfg_got} vs {cfg_want}")
        got = safetensors_arrays(os.path.join(got_dir, "adapter_model.safetensors"))
        want = safetensors_arrays(os.path.join(want_dir, "adapter_model.safetensors"))
        check(sorted(got) == sorted(want), f"{job}: tensors differ at tp 2: {sorted(set(got) ^ set(want))[:6]}")
        worst, moved = 0.0, 0
        for k, w in want.items():
            g = got[k]
            check(g.shape == w.shape, f"{job}: {k} has shape {g.shape} at tp 2, {w.shape} at tp 1")
            # relative to the tensor's norm: Adam divides by sqrt(v), so an entry whose gradients are
            # near 0 carries the summation-order noise of TP's all-reduces at full step size
            rel = float(np.linalg.norm(g - w)) / max(float(np.linalg.norm(w)), 1e-30)
            worst = max(worst, rel)
            check(rel <= 1e-5, f"{job}: {k} differs from the tp 1 run by {rel:.3g} (relative, norm)")
            # LoRA's B starts at 0, IA3's l at 1 (A starts random, so it says nothing of training)
            if k.endswith("lora_B.weight"):
                moved += int(np.any(w != 0))
            elif k.endswith("ia3_l"):
                moved += int(np.any(w != 1))
        # not a comparison of two untrained (identity) adapters
        check(moved > 0, f"{job}: every B / l is still at its initial value")
        print(f"{job}: {len(want)} tensors ({moved} trained) equal the tp 1 run's within {worst:.2e} relative (norm)")


def refuse(work):
    init_assets(work)
    cases = [
        (["experiments.eval_ia3.methods=[dora]"], "dora"),
        (["experiments.eval_lora_pg.lora=ia3"], "trains method ia3, not lora"),
        (["experiments.lora.method=[lora,ia3]"], "method"),
        (["experiments.svf_half.layers=0-x"], "layer list"),
        (["tasks.arith_choice.split.valid=null"], "no valid split"),
    ]
    for overrides, needle in cases:
        run = os.path.join(work, "refused")
        shutil.rmtree(run, ignore_errors=True)
        p = run_t2(work, run, "--dry-run", *overrides, timeout=300)
        check(p.returncode == 2 and needle in p.stderr, f"{overrides}: expected exit 2 naming '{needle}', got "
                                                        f"{p.returncode}", p)
        print(f"refused {overrides}: exit 2, '{needle}'")
    # transfer between models whose adapted shapes differ: refused before any work (exit 2)
    narrow = quickstart_init(work, "assets-narrow", "--hidden", "32", "--steps", "5", "--no-eval")
    run = os.path.join(work, "refused")
    shutil.rmtree(run, ignore_errors=True)
    p = run_t2(work, run, f"models.tiny_b.path={narrow}/model", timeout=300)
    check(p.returncode == 2 and "adapted shapes differ" in p.stderr and "hidden 64 vs 32" in p.stderr,
          f"transfer to a model of other shapes: expected exit 2 naming hidden 64 vs 32, got {p.returncode}", p)
    check(not os.path.exists(os.path.join(run, "jobs")), "work started before the transfer shapes were checked")
    print("refused transfer between different shapes: exit 2")
    # settings that cannot take effect: refused when the campaign is loaded
    for overrides, needle in ((["experiments.svf_nt.kl_coef=0.1"], "kl_coef 0.1 is a policy-gradient setting"),
                              (["experiments.lora.baseline=batch_mean"], "baseline \"batch_mean\" is a policy-gradient")):
        run = os.path.join(work, "refused")
        shutil.rmtree(run, ignore_errors=True)
        p = run_t2(work, run, "--dry-run", *overrides, timeout=300)
        check(p.returncode == 2 and needle in p.stderr, f"{overrides}: expected exit 2 naming '{needle}', got "
                                                        f"{p.returncode}", p)
        print(f"refused {overrides}: exit 2")

if __name__ == "__main__":
    mode, work = sys.argv[1], os.path.abspath(sys.argv[2])
    {"setup": setup, "resume": resume, "mpi": mpi, "tp2": tp2, "refuse": refuse}[mode](work)
