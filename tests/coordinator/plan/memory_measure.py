#!/usr/bin/env python3
"""The memory planner against measurement (issue: "a planner that tells the truth").

Builds a model with Llama-3-8B layer shapes and 2 layers (hidden 4096, intermediate 14336, 32 heads,
8 KV heads, vocab 128256; random bf16 weights) and random SVD factors for q, k, v, o of both layers
(random near-orthonormal U, V: the item paths do not depend on the factors being a real SVD, and 8
SVDs of 4096-wide matrices would dominate the run). Then, for fp32 and bf16 serving, runs one
evaluation, one gradient and one CEM work item, each in its own t2_memory_probe process, and compares
the peak resident set of each with what `t2 plan --device cpu` predicts for the same settings.
Prints both numbers per item and dtype; fails when one is off by more than 20 %.

Usage: memory_measure.py --probe PATH/t2_memory_probe --t2 PATH/t2 [--keep DIR]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HIDDEN, INTER, HEADS, KV, LAYERS, VOCAB, HEAD_DIM = 4096, 14336, 32, 8, 2, 128256, 128
MODULES = "attn_qkvo"  # q, k, v, o: the factors stay small enough that fp32 peaks well under 10 GB
TOLERANCE = 0.20
# Settings of each item: (rows, prompt tokens, new tokens), the same for the probe and the plan.
# grad runs twice: with per-layer recomputation (the campaign default) and without.
ITEMS = [
    ("evaluate", "layer", dict(batch=8, prompt=128, new=8)),
    ("grad", "layer", dict(batch=4, prompt=64, new=64)),
    ("grad", "none", dict(batch=4, prompt=64, new=64)),
    ("cem", "layer", dict(batch=16, prompt=64, new=4)),
]


def bf16_bits(a):
    return (a.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def write_model(d, rng):
    os.makedirs(d, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
           "hidden_size": HIDDEN, "intermediate_size": INTER, "num_attention_heads": HEADS,
           "num_hidden_layers": LAYERS, "num_key_value_heads": KV, "vocab_size": VOCAB, "head_dim": HEAD_DIM,
           "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 8192,
           "tie_word_embeddings": False, "bos_token_id": 128000, "eos_token_id": 128009,
           "torch_dtype": "bfloat16"}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN), "lm_head.weight": (VOCAB, HIDDEN),
              "model.norm.weight": (HIDDEN,)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (HIDDEN,)
        shapes[p + "post_attention_layernorm.weight"] = (HIDDEN,)
        shapes[p + "self_attn.q_proj.weight"] = (HEADS * HEAD_DIM, HIDDEN)
        shapes[p + "self_attn.k_proj.weight"] = (KV * HEAD_DIM, HIDDEN)
        shapes[p + "self_attn.v_proj.weight"] = (KV * HEAD_DIM, HIDDEN)
        shapes[p + "self_attn.o_proj.weight"] = (HIDDEN, HEADS * HEAD_DIM)
        shapes[p + "mlp.gate_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.up_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.down_proj.weight"] = (HIDDEN, INTER)
    header, off = {}, 0
    for name in sorted(shapes):
        n = int(np.prod(shapes[name])) * 2
        header[name] = {"dtype": "BF16", "shape": list(shapes[name]), "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name in sorted(shapes):
            n = int(np.prod(shapes[name]))
            if name.endswith("norm.weight"):
                f.write(bf16_bits(np.ones(n, np.float32)).tobytes())
                continue
            scale = 1.0 / np.sqrt(shapes[name][-1])
            for at in range(0, n, 1 << 24):
                m = min(1 << 24, n - at)
                f.write(bf16_bits((rng.random(m, dtype=np.float32) - 0.5) * (2 * scale * np.sqrt(3))).tobytes())


def write_factors(d, rng):
    os.makedirs(d, exist_ok=True)
    names, kinds = [], []
    mats = {}
    for i in range(LAYERS):
        p = f"model.layers.{i}.self_attn."
        for proj, out, inp, kind in (("q_proj", HEADS * HEAD_DIM, HIDDEN, "column"), ("k_proj", KV * HEAD_DIM, HIDDEN, "column"),
                                     ("v_proj", KV * HEAD_DIM, HIDDEN, "column"), ("o_proj", HIDDEN, HEADS * HEAD_DIM, "row")):
            names.append(p + proj + ".weight")
            kinds.append(kind)
            mats[names[-1]] = (out, inp)
    with h5py.File(os.path.join(d, "svd-tp0of1.h5"), "w") as f:
        f.attrs["format"] = "t2-svd"
        f.attrs["version"] = 1
        f.attrs["source_hash"] = "random-factors"
        f.attrs["modules"] = MODULES
        f.attrs["tp_rank"] = 0
        f.attrs["tp_size"] = 1
        f.attrs["dtype"] = "float32"
        f.create_dataset("names", data=np.array(names, dtype=h5py.string_dtype()))
        f.create_dataset("kinds", data=np.array(kinds, dtype=h5py.string_dtype()))
        for n, (out, inp) in mats.items():
            k = min(out, inp)
            g = f.create_group("m/" + n)
            g.attrs["rows"] = out
            g.attrs["cols"] = inp
            g.attrs["source_hash"] = "random"
            # Columns of unit norm (near-orthonormal for random vectors in high dimension).
            g.create_dataset("U", data=(rng.standard_normal((out, k), dtype=np.float32) / np.sqrt(out)))
            g.create_dataset("S", data=np.sort(rng.random(k, dtype=np.float32))[::-1].copy())
            g.create_dataset("V", data=(rng.standard_normal((inp, k), dtype=np.float32) / np.sqrt(inp)))


def plan(t2, model_dir, dtype, kind, recompute, s):
    b = "fp32" if dtype == "float32" else "bf16"
    cmd = [t2, "plan", "--model-config", model_dir, "--device", "cpu", "--weights", b, "--factors", "auto",
           "--modules", MODULES, "--recompute", recompute, "--prompt-tokens", str(s["prompt"]),
           "--new-tokens", str(s["new"]), "--batch", str(s["batch"]), "--micro-batch", str(s["batch"]),
           "--cem-rows", str(s["batch"]), "--gpu-memory-gb", "1000", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"t2 plan failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    items = json.loads(r.stdout)["work_items"]
    return items[{"evaluate": "evaluate item", "grad": "grad item", "cem": "cem item"}[kind]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--t2", required=True)
    ap.add_argument("--keep", help="reuse / keep the generated model in this folder")
    a = ap.parse_args()
    for exe in (a.probe, a.t2):
        if not os.access(exe, os.X_OK):
            print(f"{exe} is not built", file=sys.stderr)
            return 3
    root = a.keep or tempfile.mkdtemp(prefix="t2-memory-measure-")
    model_dir, svd_dir = os.path.join(root, "model"), os.path.join(root, "svd")
    try:
        rng = np.random.default_rng(0)
        if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
            write_model(model_dir, rng)
        if not os.path.exists(os.path.join(svd_dir, "svd-tp0of1.h5")):
            write_factors(svd_dir, rng)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        failures = []
        print(f"{'item':<15} {'dtype':<9} {'measured':>12} {'predicted':>12} {'ratio':>7}  settings")
        for dtype in ("float32", "bfloat16"):
            checksums = {}
            for kind, recompute, s in ITEMS:
                cmd = [a.probe, model_dir, svd_dir, kind, dtype, str(s["batch"]), str(s["prompt"]), str(s["new"]), "0",
                       recompute]
                r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    sys.exit(f"probe failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
                m = json.loads(r.stdout.strip().splitlines()[-1])
                p = plan(a.t2, model_dir, dtype, kind, recompute, s)
                ratio = m["peak_bytes"] / p["total_bytes"]
                name = kind + (f" ({recompute})" if kind == "grad" else "")
                if kind == "grad":
                    checksums[recompute] = m["checksum"]
                print(f"{name:<15} {dtype:<9} {m['peak_bytes'] / 1e9:>9.3f} GB {p['total_bytes'] / 1e9:>9.3f} GB "
                      f"{ratio:>7.3f}  rows {s['batch']}, {s['prompt']} + {s['new']} tokens; loaded "
                      f"{m['loaded_bytes'] / 1e9:.3f} GB, process baseline {m['baseline_bytes'] / 1e9:.3f} GB, "
                      f"after: mapped files {m['rss_file_bytes_after'] / 1e9:.3f} GB, anonymous "
                      f"{m['rss_anon_bytes_after'] / 1e9:.3f} GB; {m['seconds']} s", flush=True)
                for i in p["items"]:
                    print(f"    predicted {i['name']:<52} {i['bytes'] / 1e9:>9.3f} GB")
                if abs(ratio - 1) > TOLERANCE:
                    failures.append(f"{name} {dtype}: measured {m['peak_bytes']} B, predicted {p['total_bytes']} B")
            # Recomputation reruns the same operations: the same gradient.
            c1, c2 = checksums["layer"], checksums["none"]
            print(f"gradient checksum {dtype}: recompute layer {c1!r}, none {c2!r}")
            if not (c1 != 0 and abs(c1 - c2) <= 1e-6 * abs(c2)):
                failures.append(f"{dtype}: the gradient with per-layer recomputation differs: {c1!r} vs {c2!r}")
        if failures:
            print("OFF BY MORE THAN 20 %:\n  " + "\n  ".join(failures))
            return 1
        print(f"every item within {TOLERANCE:.0%} of the plan")
        return 0
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
