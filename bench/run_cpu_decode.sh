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

"$python" "$root/bench/summarize_decode.py" "$out"
