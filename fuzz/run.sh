#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time: fuzz/run.sh [seconds per target, default 25].
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-25}
out=build/fuzz
mkdir -p "$out"
flags="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I."

clang++ $flags fuzz/safetensors_header_fuzz.cpp lathe/io/safetensors_header.cpp -o "$out/safetensors_header_fuzz"
mkdir -p "$out/corpus_safetensors"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{}}' > "$out/corpus_safetensors/seed1" || true
"$out/safetensors_header_fuzz" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 \
  "$out/corpus_safetensors" 2>&1 | tail -3

clang++ $flags fuzz/npy_header_fuzz.cpp lathe/io/npy_header.cpp -o "$out/npy_header_fuzz"
mkdir -p "$out/corpus_npy"
printf "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }%*s\n" 58 "" \
  > "$out/corpus_npy/seed1"
head -c 24 /dev/zero >> "$out/corpus_npy/seed1"
printf "\x93NUMPY\x02\x00\x30\x00\x00\x00{'descr':'>i2','shape':(),'fortran_order':True}\n\x00\x01" \
  > "$out/corpus_npy/seed2"
"$out/npy_header_fuzz" -max_total_time="$secs" -max_len=1024 -rss_limit_mb=2048 \
  "$out/corpus_npy" 2>&1 | tail -3
