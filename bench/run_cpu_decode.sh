#!/usr/bin/env bash
# Batch-1 CPU decode/prefill: lathe (bench_decode) and PyTorch (torch_cpu_decode.py) on the
# same weights, one after the other per model, with the memory-bandwidth roofline measured in
# the same run. Models: the shipped models/lathe-tiny-en and random weights of Gemma-3-1B's
# shapes (bfloat16, made once with `lathe make-random`). Prints a markdown table.
#
#   bench/run_cpu_decode.sh            # GEN=64 REPS=3 TORCH_REPS=3 ROUNDS=1
#   MODELS="gemma-3-1b" GEN=128 bench/run_cpu_decode.sh
#
# Needs the system python3 with Debian's python3-torch (apt-get install -y python3-torch): a
# benchmark-only dependency. LATHE_BENCH_DIR (default /tmp/lathe-bench) holds the random
# folders (~2 GB for Gemma-3-1B) and the raw JSON lines (results.jsonl).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LATHE_BUILD:-$root/build/cpu}
work=${LATHE_BENCH_DIR:-/tmp/lathe-bench}
gen=${GEN:-64}
reps=${REPS:-3}
torch_reps=${TORCH_REPS:-$reps}
rounds=${ROUNDS:-1}
models=${MODELS:-"lathe-tiny-en gemma-3-1b"}
python=${TORCH_PYTHON:-/usr/bin/python3}

mkdir -p "$work"
nice cmake --build "$build" -j2 --target lathe_cli bench_decode >/dev/null

model_dir() {
  case "$1" in
    lathe-tiny-en) echo "$root/models/lathe-tiny-en" ;;
    *)
      local cfg="$root/bench/configs/$1.json" dir="$work/$1"
      [ -f "$cfg" ] || { echo "no bench/configs/$1.json" >&2; exit 2; }
      if ! cmp -s "$cfg" "$dir/source_config.json" || [ ! -f "$dir/model.safetensors" ]; then
        "$build/lathe" make-random "$cfg" "$dir" --dtype bf16 --seed 1 >&2
        cp "$cfg" "$dir/source_config.json"
      fi
      echo "$dir" ;;
  esac
}

out="$work/results.jsonl"
: > "$out"
echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$rounds"); do
  for m in $models; do
    dir=$(model_dir "$m")
    "$build/bench/bench_decode" "$dir" --gen "$gen" --reps "$reps" --label "$m" >> "$out"
    "$python" "$root/bench/torch_cpu_decode.py" "$dir" --gen "$gen" --reps "$torch_reps" \
      --label "$m" >> "$out"
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$python" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("| model | lathe decode tok/s | torch decode tok/s | lathe/torch | bandwidth GB/s | "
      "roofline tok/s | lathe/roofline | lathe prefill tok/s | torch prefill tok/s | "
      "lathe/torch prefill | lathe peak RSS MiB | torch peak RSS MiB | weights+KV MiB | "
      "lathe RSS/(weights+KV) | lathe RSS before load MiB |")
print("|" + "---|" * 15)
for label in dict.fromkeys(r["label"] for r in rows):
    L = [r for r in rows if r["label"] == label and r["engine"] == "lathe"]
    T = [r for r in rows if r["label"] == label and r["engine"] == "torch"]
    ld = med([x for r in L for x in r["decode_tok_s_all"]])
    td = med([x for r in T for x in r["decode_tok_s_all"]])
    lp = med([x for r in L for x in r["prefill_tok_s_all"]])
    tp = med([x for r in T for x in r["prefill_tok_s_all"]])
    bw = max(r["bandwidth"]["best_gbs"] for r in L)
    roof = bw * 1e9 / L[0]["bytes_per_token"]
    wkv = (L[0]["weight_bytes"] + L[0]["kv_cache_bytes"]) / 2**20
    lr = max(r["peak_rss_bytes"] for r in L) / 2**20
    tr = max(r["peak_rss_bytes"] for r in T) / 2**20
    print(f"| {label} | {ld:.2f} | {td:.2f} | {ld/td:.2f} | {bw:.1f} | {roof:.2f} | "
          f"{ld/roof:.0%} | {lp:.1f} | {tp:.1f} | {lp/tp:.2f} | {lr:.0f} | {tr:.0f} | {wkv:.0f} | "
          f"{lr/wkv:.2f} | {L[0].get('rss_before_load_bytes', 0) / 2**20:.0f} |")
PY
