#!/usr/bin/python3
"""Python reference for the runtime benchmark: batched greedy generation with a KV cache, written the
way the Hugging Face Llama implementation does it (left padding + attention mask + position ids,
cache grown with torch.cat, K/V repeated per query head, only the last position through the LM
head), in float32 on one CPU thread.

  reference_generate.py MODEL_DIR --batches 1,8,64 --prompt-len 32 --new-tokens 16
Prints JSON: per batch size, prefill and decode tokens/s, the prompts and the generated ids.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "workers",
                                "fixtures"))
import reference  # noqa: E402  (the safetensors reader and rope rule of the test reference)


class Model:
    def __init__(self, model_dir):
        cfg, w = reference.load(model_dir)
        self.cfg = cfg
        self.w = {k: v.to(torch.float32).contiguous() for k, v in w.items()}
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads", self.H)
        self.hd = cfg.get("head_dim", cfg["hidden_size"] // self.H)
        self.eps = cfg["rms_norm_eps"]
        self.inv_freq = reference.inv_freq(cfg, self.hd).to(torch.float32)
        self.head = self.w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else self.w["lm_head.weight"]

    def norm(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def rope(self, x, cos, sin):
        d = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., d:], x[..., :d]], dim=-1) * sin

    def forward(self, ids, pos, mask, cache):
        """ids/pos [B, T]; mask [B, S] (1 = real token) over all S = past + T slots; cache: list of (k, v)."""
        B, T = ids.shape
        x = torch.nn.functional.embedding(ids, self.w["model.embed_tokens.weight"])
        ang = pos[..., None].to(torch.float32) * self.inv_freq
        emb = torch.cat([ang, ang], dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        S = mask.shape[1]
        past = S - T
        causal = torch.ones(T, S, dtype=torch.bool).tril(past)
        allowed = causal[None] & mask[:, None, :].bool()
        bias = torch.zeros(B, 1, T, S).masked_fill(~allowed[:, None], torch.finfo(torch.float32).min)
        new_cache = []
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.norm(x, self.w[p + "input_layernorm.weight"])
            q = torch.nn.functional.linear(h, self.w[p + "self_attn.q_proj.weight"], self.w.get(p + "self_attn.q_proj.bias"))
            k = torch.nn.functional.linear(h, self.w[p + "self_attn.k_proj.weight"], self.w.get(p + "self_attn.k_proj.bias"))
            v = torch.nn.functional.linear(h, self.w[p + "self_attn.v_proj.weight"], self.w.get(p + "self_attn.v_proj.bias"))
            q = q.view(B, T, self.H, self.hd).transpose(1, 2)
            k = k.view(B, T, self.KV, self.hd).transpose(1, 2)
            v = v.view(B, T, self.KV, self.hd).transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            if cache is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            new_cache.append((k, v))
            rep = self.H // self.KV
            kr = k[:, :, None].expand(B, self.KV, rep, S, self.hd).reshape(B, self.H, S, self.hd)
            vr = v[:, :, None].expand(B, self.KV, rep, S, self.hd).reshape(B, self.H, S, self.hd)
            s = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(self.hd) + bias
            o = torch.matmul(torch.softmax(s, dim=-1), vr).transpose(1, 2).reshape(B, T, self.H * self.hd)
            x = x + torch.nn.functional.linear(o, self.w[p + "self_attn.o_proj.weight"])
            h = self.norm(x, self.w[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.linear(h, self.w[p + "mlp.gate_proj.weight"])
            u = torch.nn.functional.linear(h, self.w[p + "mlp.up_proj.weight"])
            x = x + torch.nn.functional.linear(torch.nn.functional.silu(g) * u, self.w[p + "mlp.down_proj.weight"])
        x = self.norm(x[:, -1], self.w["model.norm.weight"])
        return x @ self.head.T, new_cache

    @torch.no_grad()
    def generate(self, prompts, new_tokens):
        B = len(prompts)
        L = max(len(p) for p in prompts)
        ids = torch.zeros(B, L, dtype=torch.long)
        mask = torch.zeros(B, L, dtype=torch.long)
        for b, p in enumerate(prompts):
            ids[b, L - len(p):] = torch.tensor(p)
            mask[b, L - len(p):] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        t0 = time.perf_counter()
        logits, cache = self.forward(ids, pos, mask, None)
        t1 = time.perf_counter()
        out = [[] for _ in prompts]
        nxt = logits.argmax(-1)
        for b in range(B):
            out[b].append(int(nxt[b]))
        next_pos = pos[:, -1] + 1
        for _ in range(new_tokens - 1):
            mask = torch.cat([mask, torch.ones(B, 1, dtype=torch.long)], dim=1)
            logits, cache = self.forward(nxt[:, None], next_pos[:, None], mask, cache)
            next_pos = next_pos + 1
            nxt = logits.argmax(-1)
            for b in range(B):
                out[b].append(int(nxt[b]))
        t2 = time.perf_counter()
        return out, t1 - t0, t2 - t1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--batches", default="1,8,64")
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    m = Model(a.model)
    V = m.cfg["vocab_size"]
    rng = np.random.default_rng(a.seed)
    res = []
    for B in [int(b) for b in a.batches.split(",")]:
        prompts = [[int(t) for t in rng.integers(0, V, a.prompt_len)] for _ in range(B)]
        out, tp, td = m.generate(prompts, a.new_tokens)
        res.append({"batch": B, "prefill_s": tp, "decode_s": td,
                    "prefill_tok_s": B * a.prompt_len / tp,
                    "decode_tok_s": B * (a.new_tokens - 1) / td if a.new_tokens > 1 else 0.0,
                    "ids": out, "prompts": prompts})
    json.dump({"results": res}, sys.stdout)


if __name__ == "__main__":
    main()
