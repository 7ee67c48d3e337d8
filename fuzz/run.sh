#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time: fuzz/run.sh [seconds per target, default 30].
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
out=build/fuzz
mkdir -p "$out"
flags="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I."
clang++ $flags fuzz/safetensors_header_fuzz.cpp lathe/io/safetensors_header.cpp -o "$out/safetensors_header_fuzz"
mkdir -p "$out/corpus_safetensors"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{}}' > "$out/corpus_safetensors/seed1" || true
"$out/safetensors_header_fuzz" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 \
  "$out/corpus_safetensors" 2>&1 | tail -3
