#!/usr/bin/env bash
# The GPU benchmark of issues [cuda] and [gpu-speed], run on the device machine in one call:
# lathe's batch-1 decode / prefill / time to first token / peak GPU memory on random-weight
# models of gemma-3-1b, gemma-3-4b and llama-3.1-8b shapes (bf16), then the PyTorch anchors
# (../shared/bench/anchors_torch.py) in the same call, then bench/results/h200-latest.json.
#
# Usage: bench/run_gpu_decode.sh BIN_DIR ANCHORS_PY OUT_DIR COMMIT [model ...]
#   BIN_DIR holds `lathe` and `bench_decode_gpu` from the cuda preset (build/cuda and
#   build/cuda/bench); ANCHORS_PY is a copy of ../shared/bench/anchors_torch.py ("-" skips it);
#   OUT_DIR receives lathe-<model>.json, anchors_torch.json, h200-latest.json and logs.
# Environment: LATHE_BENCH_MODELS_DIR (default /tmp/lathe-bench) holds the random folders,
#   written once; LATHE_BENCH_CONTEXT (default 8192) is the long-context decode of llama-3.1-8b.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$1 ANCHORS=$2 OUT=$3 COMMIT=$4
shift 4
MODELS=("$@")
[ ${#MODELS[@]} -eq 0 ] && MODELS=(gemma-3-1b gemma-3-4b llama-3.1-8b llama-3.1-8b-4bit)
DIR=${LATHE_BENCH_MODELS_DIR:-/tmp/lathe-bench}
mkdir -p "$DIR" "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
  | tee "$OUT/gpu.txt"

for m in "${MODELS[@]}"; do
  base=${m%-4bit}  # NAME-4bit: NAME quantized by `lathe quantize` (MLX affine, 4 bits, group 64)
  if [ ! -f "$DIR/$base/model.safetensors" ]; then
    /usr/bin/time -f "make-random $base: %e s" \
      "$BIN/lathe" make-random "bench/configs/$base.json" "$DIR/$base" --dtype bf16 --seed 1 \
      >/dev/null || exit 1
  fi
  if [ "$m" != "$base" ] && [ ! -f "$DIR/$m/config.json" ]; then
    /usr/bin/time -f "quantize $m: %e s" \
      "$BIN/lathe" quantize "$DIR/$base" "$DIR/$m" --bits 4 --group-size 64 || exit 1
  fi
done
for m in "${MODELS[@]}"; do
  extra=()
  [ "$m" = llama-3.1-8b ] && extra=(--context "${LATHE_BENCH_CONTEXT:-8192}")
  "$BIN/bench_decode_gpu" "$DIR/$m" --label "$m" "${extra[@]}" >"$OUT/lathe-$m.json" \
    2> >(tee "$OUT/lathe-$m.log" >&2)
done

# The load anchor: the weights file read from the page cache into pinned memory and copied to
# the GPU by PyTorch (bytes / s), next to lathe's load_s of the same folder.
python3 bench/load_anchor.py "$DIR/llama-3.1-8b/model.safetensors" >"$OUT/load_anchor.json" \
  2> >(tee "$OUT/load_anchor.log" >&2)

if [ "$ANCHORS" != - ]; then
  # Page-cache pressure from the folders above is irrelevant to the GPU anchors.
  OUT="$OUT" PYTHONUNBUFFERED=1 python3 "$ANCHORS" 2>&1 | tee "$OUT/anchors.log"
fi
python3 bench/summarize_gpu.py "$OUT" "$COMMIT" >"$OUT/h200-latest.json" && cat "$OUT/h200-latest.json"
