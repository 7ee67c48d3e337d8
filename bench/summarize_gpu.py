#!/usr/bin/env python3
"""Merges the outputs of bench/run_gpu_decode.sh into the h200-latest.json record.

Usage: summarize_gpu.py OUT_DIR COMMIT  (prints the JSON; a markdown row goes to stderr)
The roofline uses the copy bandwidth PyTorch measured in the same call (bytes read + written
of a 4 GiB device copy) when the anchors ran, else lathe's own elementwise copy."""
import datetime
import glob
import json
import os
import sys

out_dir, commit = sys.argv[1], sys.argv[2]
anchors = {}
path = os.path.join(out_dir, "anchors_torch.json")
if os.path.exists(path):
    anchors = json.load(open(path))
# anchors_torch.py names the models without the dash after the family.
anchor_name = {"gemma-3-1b": "gemma3-1b", "gemma-3-4b": "gemma3-4b", "llama-3.1-8b": "llama3.1-8b"}

copy = anchors.get("copy_GBps")
models = {}
for f in sorted(glob.glob(os.path.join(out_dir, "lathe-*.json"))):
    try:
        r = json.load(open(f))
    except (ValueError, OSError):
        continue
    name = r["label"]
    bw = copy or r["copy_GBps"]
    a = anchors.get(anchor_name.get(name, name), {})
    m = {
        "decode_tok_s": r["decode_tok_s"],
        "prefill_tok_s": r.get("prefill_tok_s"),
        "roofline_tok_s": bw * 1e9 / r["bytes_per_token"],
        "anchor_decode_tok_s": a.get("static_compiled_decode_tok_s"),
        "anchor_eager_decode_tok_s": a.get("eager_decode_tok_s"),
        "anchor_prefill_tok_s": a.get("prefill2048_tok_s"),
        "ttft_ms": r["ttft_ms"],
        "peak_gpu_bytes": r["peak_gpu_bytes"],
        "weights_plus_kv_bytes": r["weight_bytes"] + r["kv_cache_bytes"],
        "lathe_copy_GBps": r["copy_GBps"],
        "load_s": r["load_s"],
        "load_GBps": r["weight_bytes"] / r["load_s"] / 1e9 if r["load_s"] > 0 else None,
    }
    if "long_context_decode_tok_s" in r:
        m["long_context_tokens"] = r["long_context_tokens"]
        m["long_context_decode_tok_s"] = r["long_context_decode_tok_s"]
    models[name] = m

load_anchor = None
path = os.path.join(out_dir, "load_anchor.json")
if os.path.exists(path):
    try:
        load_anchor = json.load(open(path))
    except ValueError:
        pass

record = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit,
    "load_anchor": load_anchor,
    "copy_GBps": copy or (next(iter(models.values()))["lathe_copy_GBps"] if models else None),
    "models": models,
}
print(json.dumps(record, indent=1))


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


for name, m in models.items():
    ratio = lambda a, b: None if a is None or not b else a / b
    sys.stderr.write(
        f"| {name} | {fmt(m['decode_tok_s'], '.1f')} | {fmt(m['anchor_decode_tok_s'], '.1f')} | "
        f"{fmt(ratio(m['decode_tok_s'], m['anchor_decode_tok_s']), '.2f')} | "
        f"{fmt(m['roofline_tok_s'], '.0f')} | "
        f"{fmt(100 * m['decode_tok_s'] / m['roofline_tok_s'], '.0f')}% | "
        f"{fmt(m['prefill_tok_s'], '.0f')} | {fmt(m['anchor_prefill_tok_s'], '.0f')} | "
        f"{fmt(ratio(m['prefill_tok_s'], m['anchor_prefill_tok_s']), '.2f')} | "
        f"{fmt(m['ttft_ms'], '.1f')} | {m['peak_gpu_bytes'] / 2**30:.2f} / "
        f"{m['weights_plus_kv_bytes'] / 2**30:.2f} GiB |\n")
