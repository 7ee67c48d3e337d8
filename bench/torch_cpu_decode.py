#!/usr/bin/python3
"""PyTorch-on-the-CPU anchor for bench_decode: the same safetensors weights in a plain torch
implementation of Llama / Gemma 3 (static KV cache, weights in their checkpoint dtype,
torch.no_grad, 2 threads), timed the same way (batch 1, greedy, prefill then decode).

Needs Debian's python3-torch for the system interpreter (apt-get install -y python3-torch);
it is a benchmark-only dependency, not part of scripts/install-deps. transformers is not
packaged by Debian, so the architecture is written here; `--check-fixture DIR` compares its
full-sequence logits with the transformers references of tests/data/models/DIR.

Usage: torch_cpu_decode.py MODEL_DIR [--prompt-len 128] [--gen 64] [--reps 3] [--label NAME]
Prints one JSON object on stdout (the same keys as bench_decode where they mean the same).
"""
import argparse
import json
import math
import mmap
import resource
import struct
import sys
import time
import warnings

import torch
import torch.nn.functional as F

DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "I64": torch.int64,
          "I32": torch.int32}


def load_safetensors(path):
    """Zero-copy tensors over the mapped file, as lathe maps it."""
    f = open(path, "rb")
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    n = struct.unpack("<Q", mm[:8])[0]
    header = json.loads(mm[8:8 + n])
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mapping is read-only; nothing writes to it
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dt = DTYPES[info["dtype"]]
            b, e = info["data_offsets"]
            count = (e - b) // torch.tensor([], dtype=dt).element_size()
            t = torch.frombuffer(mm, dtype=dt, count=count, offset=8 + n + b)
            out[name] = t.reshape(info["shape"])
    return out


class Config:
    def __init__(self, d):
        top = d
        d = d.get("text_config", d)
        self.model_type = top.get("model_type", "llama")
        self.gemma = self.model_type.startswith("gemma3")
        g = self.gemma
        self.vocab = d.get("vocab_size", 262208 if g else None)
        self.hidden = d["hidden_size"]
        self.inter = d["intermediate_size"]
        self.layers = d["num_hidden_layers"]
        self.heads = d.get("num_attention_heads", 8 if g else None)
        self.kv_heads = d.get("num_key_value_heads", 4 if g else self.heads)
        self.head_dim = d.get("head_dim") or (256 if g else self.hidden // self.heads)
        self.eps = d.get("rms_norm_eps", 1e-6)
        self.tie = d.get("tie_word_embeddings", top.get("tie_word_embeddings", g))
        self.act = d.get("hidden_activation", d.get("hidden_act", "gelu_pytorch_tanh" if g else "silu"))
        self.window = d.get("sliding_window") or 0
        self.softcap = d.get("final_logit_softcapping") if self.model_type == "gemma3_text" else None
        if g:
            self.scale = d.get("query_pre_attn_scalar", 256) ** -0.5
            if "layer_types" in d:
                self.layer_types = d["layer_types"]
            else:
                p = d.get("sliding_window_pattern", d.get("_sliding_window_pattern", 6))
                self.layer_types = ["sliding_attention" if (i + 1) % p else "full_attention"
                                    for i in range(self.layers)]
        else:
            self.scale = self.head_dim ** -0.5
            self.layer_types = ["full_attention"] * self.layers
            self.window = 0
        rp = d.get("rope_parameters")
        if rp and "full_attention" in rp:
            self.rope = {k: v for k, v in rp.items()}
        else:
            full = dict(rp or d.get("rope_scaling") or {})
            full.setdefault("rope_theta", d.get("rope_theta", 1e6 if g else 1e4))
            self.rope = {"full_attention": full,
                         "sliding_attention": {"rope_theta": d.get("rope_local_base_freq", 1e4)}}


def inv_freq(p, dim):
    inv = 1.0 / (p["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    kind = p.get("rope_type", p.get("type", "default"))
    if kind == "linear":
        inv = inv / p["factor"]
    elif kind == "llama3":
        factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
        old = p["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        inv = torch.where(medium, smoothed, scaled)
    elif kind != "default":
        raise SystemExit(f"torch_cpu_decode: rope type {kind} not implemented")
    return inv


class Model:
    def __init__(self, cfg, w, ctx):
        self.c, self.ctx = cfg, ctx
        # The language model's names without their prefix (multimodal folders nest them).
        pre = next(p for p in ("model.language_model.", "language_model.model.", "model.")
                   if p + "embed_tokens.weight" in w)
        self.w = {k[len(pre):] if k.startswith(pre) else k: v for k, v in w.items()}
        if "language_model.lm_head.weight" in w:
            self.w["lm_head.weight"] = w["language_model.lm_head.weight"]
        self.embed = self.w["embed_tokens.weight"]
        self.dtype = self.embed.dtype
        self.head = self.embed if cfg.tie else self.w["lm_head.weight"]
        if cfg.gemma:  # (1 + w) norms, computed once in float32
            for k in list(self.w):
                if k.endswith("norm.weight"):
                    self.w[k] = 1.0 + self.w[k].float()
            self.embed_scale = torch.tensor(cfg.hidden ** 0.5, dtype=self.dtype)
        pos = torch.arange(ctx, dtype=torch.float32)
        self.rope = {}
        for kind, p in cfg.rope.items():
            f = torch.outer(pos, inv_freq(p, cfg.head_dim))
            e = torch.cat([f, f], dim=-1)
            self.rope[kind] = (e.cos().to(self.dtype), e.sin().to(self.dtype))
        shape = (1, cfg.kv_heads, ctx, cfg.head_dim)
        self.k = [torch.zeros(shape, dtype=self.dtype) for _ in range(cfg.layers)]
        self.v = [torch.zeros(shape, dtype=self.dtype) for _ in range(cfg.layers)]

    def norm(self, x, name):
        w = self.w[name + ".weight"]
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.c.eps)
        if self.c.gemma:
            return (h * w).to(x.dtype)
        return w * h.to(x.dtype)

    def act(self, x):
        return F.silu(x) if self.c.act == "silu" else F.gelu(x, approximate="tanh")

    def rotate(self, x, cos, sin):
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
        return x * cos + rot * sin

    def attention(self, i, x, pos):
        c, p = self.c, f"layers.{i}.self_attn"
        t = x.shape[1]
        q = F.linear(x, self.w[p + ".q_proj.weight"], self.w.get(p + ".q_proj.bias"))
        k = F.linear(x, self.w[p + ".k_proj.weight"], self.w.get(p + ".k_proj.bias"))
        v = F.linear(x, self.w[p + ".v_proj.weight"], self.w.get(p + ".v_proj.bias"))
        q = q.view(1, t, c.heads, c.head_dim)
        k = k.view(1, t, c.kv_heads, c.head_dim)
        v = v.view(1, t, c.kv_heads, c.head_dim)
        if p + ".q_norm.weight" in self.w:
            q = self.norm(q, p + ".q_norm")
            k = self.norm(k, p + ".k_norm")
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        cos, sin = self.rope[c.layer_types[i]]
        cos, sin = cos[pos:pos + t], sin[pos:pos + t]
        q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
        self.k[i][:, :, pos:pos + t] = k
        self.v[i][:, :, pos:pos + t] = v
        keys, values = self.k[i][:, :, :pos + t], self.v[i][:, :, :pos + t]
        g = c.heads // c.kv_heads
        # Query heads sharing a kv head are rows of one product.
        qg = q.reshape(1, c.kv_heads, g * t, c.head_dim)
        scores = torch.matmul(qg, keys.transpose(2, 3)).float() * c.scale
        qpos = torch.arange(pos, pos + t).repeat(g).view(-1, 1)
        kpos = torch.arange(pos + t).view(1, -1)
        allowed = kpos <= qpos
        if c.layer_types[i] == "sliding_attention" and c.window:
            allowed &= kpos > qpos - c.window
        scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(values.dtype)
        out = torch.matmul(probs, values).view(1, c.heads, t, c.head_dim)
        out = out.transpose(1, 2).reshape(1, t, c.heads * c.head_dim)
        return F.linear(out, self.w[p + ".o_proj.weight"], self.w.get(p + ".o_proj.bias"))

    def mlp(self, i, x):
        p = f"layers.{i}.mlp"
        lin = lambda h, n: F.linear(h, self.w[f"{p}.{n}.weight"], self.w.get(f"{p}.{n}.bias"))
        return lin(self.act(lin(x, "gate_proj")) * lin(x, "up_proj"), "down_proj")

    def forward(self, ids, pos, last_only=True):
        c = self.c
        x = F.embedding(ids, self.embed)
        if c.gemma:
            x = x * self.embed_scale
        for i in range(c.layers):
            lp = f"layers.{i}"
            if c.gemma:
                h = self.norm(x, lp + ".input_layernorm")
                h = self.norm(self.attention(i, h, pos), lp + ".post_attention_layernorm")
                x = x + h
                h = self.norm(x, lp + ".pre_feedforward_layernorm")
                x = x + self.norm(self.mlp(i, h), lp + ".post_feedforward_layernorm")
            else:
                x = x + self.attention(i, self.norm(x, lp + ".input_layernorm"), pos)
                x = x + self.mlp(i, self.norm(x, lp + ".post_attention_layernorm"))
        x = self.norm(x, "norm")
        if last_only:
            x = x[:, -1:]
        logits = F.linear(x, self.head).float()
        if c.softcap:
            logits = torch.tanh(logits / c.softcap) * c.softcap
        return logits


def load(model_dir, ctx):
    cfg = Config(json.load(open(model_dir + "/config.json")))
    return Model(cfg, load_safetensors(model_dir + "/model.safetensors"), ctx)


def check_fixture(fixture_dir):
    ref = load_safetensors(fixture_dir + "/reference.safetensors")
    ids = ref["input_ids"].to(torch.int64)
    m = load(fixture_dir, ids.shape[1])
    with torch.no_grad():
        logits = m.forward(ids, 0, last_only=False).double()
    want = ref["logits"].double()
    err = float((logits - want).norm() / want.norm())
    print(json.dumps({"fixture": fixture_dir, "rel_err": err}))
    return err


def bench(args):
    torch.set_num_threads(args.threads)
    ctx = args.prompt_len + args.gen
    m = load(args.model, ctx)
    vocab = m.embed.shape[0]
    prompt = torch.tensor([[(1000 + 7 * i) % vocab for i in range(args.prompt_len)]])

    def generate(n):
        t0 = time.perf_counter()
        tok = m.forward(prompt, 0).argmax(-1)
        t1 = time.perf_counter()
        ids = [int(tok)]
        for step in range(1, n):
            tok = m.forward(tok.view(1, 1), args.prompt_len + step - 1).argmax(-1)
            ids.append(int(tok))
        t2 = time.perf_counter()
        return args.prompt_len / (t1 - t0), (n - 1) / (t2 - t1), ids

    with torch.no_grad():
        generate(4)  # warm-up: pages the weights in
        runs = [generate(args.gen) for _ in range(args.reps)]
    prefill = sorted(r[0] for r in runs)
    decode = sorted(r[1] for r in runs)
    med = lambda v: v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
    out = {
        "engine": "torch", "torch_version": torch.__version__, "threads": args.threads,
        "label": args.label or args.model, "model": args.model,
        "prompt_tokens": args.prompt_len, "generated_tokens": args.gen, "reps": args.reps,
        "decode_tok_s": med(decode), "decode_tok_s_all": [r[1] for r in runs],
        "prefill_tok_s": med(prefill), "prefill_tok_s_all": [r[0] for r in runs],
        "first_ids": runs[0][2][:8],
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--label", default="")
    ap.add_argument("--check-fixture", action="append", default=[])
    args = ap.parse_args()
    if args.check_fixture:
        worst = max(check_fixture(d) for d in args.check_fixture)
        sys.exit(0 if worst < 1e-4 else 1)
    if not args.model:
        ap.error("MODEL_DIR is required")
    bench(args)


if __name__ == "__main__":
    main()
