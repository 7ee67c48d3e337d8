// Elementwise throughput against the machine's copy bandwidth, and the cost of
// recording and evaluating a graph (ops per second for a 1,000-op chain).
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "lathe/lathe.h"

using namespace lathe;

namespace {

constexpr int64_t kElems = 1 << 24;  // 64 MiB of float32: well beyond the caches

// Anchor: memcpy of the same bytes (read + write counted).
void BM_memcpy(benchmark::State& state) {
  std::vector<float> src(kElems, 1.0f), dst(kElems);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kElems * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kElems * sizeof(float) * 2);
}
BENCHMARK(BM_memcpy)->Unit(benchmark::kMillisecond)->UseRealTime();

// Unary op over a kept input: reads 4 bytes, writes 4 bytes per element.
void BM_unary_exp(benchmark::State& state) {
  Array x = full({kElems}, 0.5, float32);
  keep(x);
  eval(x);
  for (auto _ : state) {
    Array y = exp(x);
    eval(y);
    y.free();
  }
  state.SetBytesProcessed(state.iterations() * kElems * sizeof(float) * 2);
  x.free();
  eval();
}
BENCHMARK(BM_unary_exp)->Unit(benchmark::kMillisecond)->UseRealTime();

// Binary add: reads 8 bytes, writes 4 bytes per element.
void BM_binary_add(benchmark::State& state) {
  Array a = full({kElems}, 0.5, float32), b = full({kElems}, 1.5, float32);
  keep(a, b);
  eval(a, b);
  for (auto _ : state) {
    Array y = a + b;
    eval(y);
    y.free();
  }
  state.SetBytesProcessed(state.iterations() * kElems * sizeof(float) * 3);
  a.free();
  b.free();
  eval();
}
BENCHMARK(BM_binary_add)->Unit(benchmark::kMillisecond)->UseRealTime();

// bfloat16 multiply by a broadcast row (the shape of a norm's weight).
void BM_binary_bf16_broadcast(benchmark::State& state) {
  Array a = full({kElems / 4096, 4096}, 0.5, bfloat16), w = full({4096}, 1.5, bfloat16);
  keep(a, w);
  eval(a, w);
  for (auto _ : state) {
    Array y = a * w;
    eval(y);
    y.free();
  }
  state.SetBytesProcessed(state.iterations() * kElems * 2 * 2);
  a.free();
  w.free();
  eval();
}
BENCHMARK(BM_binary_bf16_broadcast)->Unit(benchmark::kMillisecond)->UseRealTime();

// Graph overhead: a 1,000-op chain on a tiny array, recorded and evaluated.
void BM_graph_1000_ops(benchmark::State& state) {
  Array x = ones({4}, float32);
  keep(x);
  eval(x);
  for (auto _ : state) {
    Array y = x;
    for (int i = 0; i < 1000; ++i) y = y * 1.0001f;
    eval(y);
    y.free();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  x.free();
  eval();
}
BENCHMARK(BM_graph_1000_ops)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
