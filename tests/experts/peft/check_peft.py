#!/usr/bin/env python3
"""Independent reader of a PEFT adapter folder written by t2: parses adapter_model.safetensors by hand
(8-byte little-endian header length, JSON header, raw little-endian data; json + struct only), checks
PEFT's tensor names and shapes for the model in MODEL_DIR (config.json) and PEFT's config keys, and
prints {name: [shape, sum, sum of squares]} as JSON for the caller to compare with its own tensors.

usage: check_peft.py ADAPTER_DIR MODEL_DIR METHOD(lora|dora|ia3)
"""
import json
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", (name, t["dtype"])
        b, e = t["data_offsets"]
        count = (e - b) // 4
        vals = struct.unpack("<%df" % count, data[base + b:base + e])
        numel = 1
        for s in t["shape"]:
            numel *= s
        assert numel == count, (name, t["shape"], count)
        out[name] = (t["shape"], vals)
    return out, meta


def main():
    adir, mdir, method = sys.argv[1:4]
    cfg = json.load(open(adir + "/adapter_config.json"))
    mcfg = json.load(open(mdir + "/config.json"))
    tensors, meta = read_safetensors(adir + "/adapter_model.safetensors")
    assert meta.get("format") == "pt", meta
    hidden = mcfg["hidden_size"]
    heads = mcfg["num_attention_heads"]
    kv = mcfg.get("num_key_value_heads", heads)
    hd = mcfg.get("head_dim") or hidden // heads
    inter = mcfg["intermediate_size"]
    shapes = {  # [out, in] of each Llama-family projection
        "self_attn.q_proj": (heads * hd, hidden), "self_attn.k_proj": (kv * hd, hidden),
        "self_attn.v_proj": (kv * hd, hidden), "self_attn.o_proj": (hidden, heads * hd),
        "mlp.gate_proj": (inter, hidden), "mlp.up_proj": (inter, hidden), "mlp.down_proj": (hidden, inter),
    }
    want = {}
    layers = range(mcfg["num_hidden_layers"])
    if method in ("lora", "dora"):
        assert cfg["peft_type"] == "LORA", cfg
        assert cfg["use_dora"] == (method == "dora"), cfg
        for k in ("r", "lora_alpha", "lora_dropout", "target_modules", "base_model_name_or_path", "task_type",
                  "fan_in_fan_out", "bias", "inference_mode", "use_rslora"):
            assert k in cfg, ("missing config key", k)
        assert cfg["fan_in_fan_out"] is False and cfg["bias"] == "none"
        r = cfg["r"]
        if cfg.get("layers_to_transform") is not None:
            layers = cfg["layers_to_transform"]
        for i in layers:
            for mod, (o, n) in shapes.items():
                if mod.split(".")[1] not in cfg["target_modules"]:
                    continue
                p = "base_model.model.model.layers.%d.%s." % (i, mod)
                want[p + "lora_A.weight"] = [r, n]
                want[p + "lora_B.weight"] = [o, r]
                if method == "dora":
                    want[p + "lora_magnitude_vector"] = [o]
    else:
        assert cfg["peft_type"] == "IA3", cfg
        for k in ("target_modules", "feedforward_modules", "fan_in_fan_out", "base_model_name_or_path", "task_type"):
            assert k in cfg, ("missing config key", k)
        for i in layers:
            for mod, (o, n) in shapes.items():
                short = mod.split(".")[1]
                if short not in cfg["target_modules"]:
                    continue
                ff = short in cfg["feedforward_modules"]
                want["base_model.model.model.layers.%d.%s.ia3_l" % (i, mod)] = [1, n] if ff else [o, 1]
    got = {k: v[0] for k, v in tensors.items()}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        sys.exit("names/shapes differ: missing %s extra %s wrong shape %s" % (missing, extra, wrong))
    print(json.dumps({k: [v[0], sum(v[1]), sum(x * x for x in v[1])] for k, v in tensors.items()}))


if __name__ == "__main__":
    main()
