#!/usr/bin/python3
"""The markdown table of bench/run_cpu_decode.sh from its JSON lines (bench_decode and
torch_cpu_decode.py outputs): medians over runs, the roofline from the best STREAM copy/triad
figure (bytes read + written) and from the read-only pass, and peak RSS against weights + KV."""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
med = statistics.median
print("| model | lathe decode tok/s | torch decode tok/s | lathe/torch | copy/triad GB/s | "
      "roofline tok/s | lathe/roofline | read-only GB/s | read roofline tok/s | "
      "lathe/read roofline | lathe prefill tok/s | torch prefill tok/s | lathe/torch prefill | "
      "lathe peak RSS MiB | torch peak RSS MiB | weights+KV MiB | lathe RSS/(weights+KV) |")
print("|" + "---|" * 17)
for label in dict.fromkeys(r["label"] for r in rows):
    L = [r for r in rows if r["label"] == label and r["engine"] == "lathe"]
    T = [r for r in rows if r["label"] == label and r["engine"] == "torch"]
    ld = med([x for r in L for x in r["decode_tok_s_all"]])
    td = med([x for r in T for x in r["decode_tok_s_all"]])
    lp = med([x for r in L for x in r["prefill_tok_s_all"]])
    tp = med([x for r in T for x in r["prefill_tok_s_all"]])
    bw = max(r["bandwidth"]["best_gbs"] for r in L)
    rbw = max(r["bandwidth"].get("read_best_gbs", 0) for r in L)
    per_token = L[0]["bytes_per_token"]
    roof, rroof = bw * 1e9 / per_token, rbw * 1e9 / per_token
    wkv = (L[0]["weight_bytes"] + L[0]["kv_cache_bytes"]) / 2**20
    lr = max(r["peak_rss_bytes"] for r in L) / 2**20
    tr = max(r["peak_rss_bytes"] for r in T) / 2**20
    print(f"| {label} | {ld:.2f} | {td:.2f} | {ld / td:.2f} | {bw:.1f} | {roof:.2f} | "
          f"{ld / roof:.0%} | {rbw:.1f} | {rroof:.2f} | {ld / rroof:.0%} | {lp:.1f} | {tp:.1f} | "
          f"{lp / tp:.2f} | {lr:.0f} | {tr:.0f} | {wkv:.0f} | {lr / wkv:.2f} |")
