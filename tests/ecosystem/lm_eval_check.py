#!/usr/bin/python3
"""Checks `t2 export RUN --format lm-eval` field by field against the run's HDF5 files (h5py), with
no t2 code: shared by tests/ecosystem (a fixture model by Hub id) and tests/quickstart (the
quickstart run).

  lm_eval_check.py T2_BIN RUN_DIR OUT_DIR     exports, checks, prints a summary; exit 1 on a mismatch

check_export() returns {(model, method, seed, task): (results entry, samples)} for further checks.
"""
import hashlib
import json
import os
import subprocess
import sys

import h5py
import numpy as np

TOP_KEYS = {"results", "groups", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
            "n-samples", "config", "git_hash", "date", "model_name", "model_name_sanitized"}
METRIC = {"gsm8k": ("exact_match", "strict-match"), "arc_easy": ("acc", "none"), "arc_challenge": ("acc", "none"),
          "cls": ("acc", "none"), "humaneval": ("pass@1", "create_test"), "mbpp": ("pass_at_1", "none")}


class Mismatch(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def fnv1a(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) % 2**64
    return f"{h:016x}"


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def sanitize(s):
    return "".join("__" if c == "/" else c if (c.isalnum() or c in "-_.") else "_" for c in s)


def records(jdir):
    recs = []
    for name in sorted(f for f in os.listdir(jdir) if f.startswith("eval-") and f.endswith(".h5")):
        with h5py.File(os.path.join(jdir, name), "r") as f:
            cols = {k: f["records"][k][:] for k in f["records"]}
        for i in range(len(cols["score"])):
            recs.append({k: text(v[i]) for k, v in cols.items()})
    return recs


def evaluate_jobs(run):
    """Finished evaluate jobs: (folder, params) from job.h5, read with h5py."""
    out = []
    for d in sorted(os.listdir(os.path.join(run, "jobs"))):
        jdir = os.path.join(run, "jobs", d)
        if not os.path.exists(os.path.join(jdir, "DONE")):
            continue
        with h5py.File(os.path.join(jdir, "job.h5"), "r") as f:
            if text(f.attrs["job_kind"]) != "evaluate":
                continue
            params = {k: text(v) for k, v in f["params"].attrs.items()}
        out.append((jdir, params))
    return out


def check_export(run, out):
    with h5py.File(os.path.join(run, "run.h5"), "r") as f:
        meta = {k: text(f.attrs[k]) for k in ("ended_at", "started_at", "git_sha")}
        resolved = json.loads(text(f["campaign/resolved"][0]))
    date = (meta["ended_at"] or meta["started_at"])[:19].replace(":", "-")
    jobs = evaluate_jobs(run)
    expect(jobs, f"{run}: no finished evaluate job")
    seeds = {}
    for _, p in jobs:
        seeds.setdefault((p["model"], p["method"]), set()).add(p["seed"])
    found = {}
    for jdir, p in jobs:
        model, method, seed, task = p["model"], p["method"], p["seed"], p["task"]
        mres = resolved["models"][model]
        name = mres.get("hf_cache", {}).get("repo_id", mres["path"])
        folder = sanitize(name) + "__" + method + (f"__seed{seed}" if len(seeds[(model, method)]) > 1 else "")
        d = os.path.join(out, folder)
        with open(os.path.join(d, f"results_{date}.json")) as f:
            res = json.load(f)
        expect(TOP_KEYS <= set(res), f"{folder}: top-level keys missing: {TOP_KEYS - set(res)}")
        expect(res["git_hash"] == meta["git_sha"] and res["groups"] == {}, f"{folder}: git_hash, groups")
        expect(res["model_name"] == name and res["config"]["random_seed"] == int(seed), f"{folder}: model, seed")
        expect(res["config"]["model_args"].startswith(f"pretrained={name}"), f"{folder}: model_args")
        kind = resolved["tasks"][task].get("kind", task)
        metric, filt = METRIC.get(kind, ("exact_match", "none"))
        with h5py.File(os.path.join(jdir, "result.h5"), "r") as f:
            acc = float(f.attrs["accuracy"])
        recs = records(jdir)
        scores = np.array([r["score"] for r in recs], dtype=float)
        r = res["results"][task]
        expect(r["alias"] == task and r[f"{metric},{filt}"] == acc and abs(acc - scores.mean()) < 1e-12,
               f"{folder} {task}: {metric},{filt} {r.get(f'{metric},{filt}')} vs result.h5 {acc}")
        se = float(np.std(scores, ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else 0.0
        expect(abs(r[f"{metric}_stderr,{filt}"] - se) < 1e-12, f"{folder} {task}: stderr {r} vs {se}")
        expect(res["n-samples"][task] == {"original": len(recs), "effective": len(recs)}, f"{folder} {task}: n-samples")
        expect(res["n-shot"][task] == 0 and res["higher_is_better"][task] == {metric: True}, "n-shot, higher_is_better")
        expect(task in res["versions"] and res["group_subtasks"][task] == [], "versions, group_subtasks")
        cfg = res["configs"][task]
        max_tokens = resolved["tasks"][task].get("max_new_tokens")
        expect(cfg["task"] == task and cfg["output_type"] == "generate_until"
               and cfg["metric_list"][0]["metric"] == metric and cfg["generation_kwargs"]["max_gen_toks"] == max_tokens,
               f"{folder} {task}: config {cfg}")
        with open(os.path.join(d, f"samples_{task}_{date}.jsonl")) as f:
            samples = [json.loads(line) for line in f]
        expect(len(samples) == len(recs), f"{folder} {task}: {len(samples)} samples, {len(recs)} records")
        for s, h in zip(samples, recs):
            prompt = s["arguments"][0][0]
            expect(prompt and fnv1a(prompt) == h["prompt_hash"], f"{folder} {task}: the prompt is the exact text sent")
            expect(s["doc_id"] == h["example_index"] and s["target"] == h["reference"]
                   and s["doc"] == {"example_id": h["example_id"], "example_index": int(h["example_index"]),
                                    "reference": h["reference"]}, f"doc of {h['example_id']}")
            expect(s["resps"] == [[h["response"]]] and s["filtered_resps"] == [h["extracted"]],
                   f"{h['example_id']}: response and extracted answer")
            expect(s[metric] == h["score"] and s["metrics"] == [metric] and s["filter"] == filt,
                   f"{h['example_id']}: score")
            expect(s["arguments"][0][1]["max_gen_toks"] == max_tokens, "generation settings")
            expect(s["prompt_hash"] == sha(prompt) and s["target_hash"] == sha(str(s["target"]))
                   and s["doc_hash"] == sha(json.dumps(s["doc"], indent=2, ensure_ascii=False)),
                   f"{h['example_id']}: lm-eval's sha256 hashes")
        found[(model, method, seed, task)] = (r, samples)
    return found


def export_and_check(t2, run, out, env=None):
    p = subprocess.run([t2, "export", run, "--format", "lm-eval", "--out", out], env=env, capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        raise Mismatch(f"t2 export exit {p.returncode}: {p.stderr[-3000:]}")
    return check_export(run, out)


if __name__ == "__main__":
    try:
        cells = export_and_check(sys.argv[1], sys.argv[2], sys.argv[3])
    except Mismatch as e:
        sys.exit(f"FAILED: {e}")
    print(f"lm-eval export of {len(cells)} evaluations checked field by field: ok")
