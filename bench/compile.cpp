// compile() against the plain lazy graph: a 10-op elementwise chain on 1M
// float32 elements. GB/s counts the chain's own traffic (read x, write y).
#include <benchmark/benchmark.h>

#include <vector>

#include "lathe/lathe.h"

using namespace lathe;

namespace {

constexpr int64_t kElems = 1 << 20;

Array chain(const Array& x) {
  Array y = x * 1.5f;     // 1
  y = y + 0.25f;          // 2
  y = y * x;              // 3
  y = maximum(y, -1.0f);  // 4
  y = y - 0.5f;           // 5
  y = abs(y);             // 6
  y = sqrt(y);            // 7
  y = y * 0.75f;          // 8
  y = minimum(y, 4.0f);   // 9
  return y + x;           // 10
}

Array make_input() {
  Array x = arange(0.0, static_cast<double>(kElems), 1.0, float32) * (1.0f / kElems);
  keep(x);
  eval(x);
  return x;
}

void BM_chain_uncompiled(benchmark::State& state) {
  Array x = make_input();
  for (auto _ : state) {
    Array y = chain(x);
    eval(y);
    y.free();
  }
  state.SetBytesProcessed(state.iterations() * kElems * sizeof(float) * 2);
  x.free();
  eval();
}
BENCHMARK(BM_chain_uncompiled)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_chain_compiled(benchmark::State& state) {
  Array x = make_input();
  auto fn = compile([](const std::vector<Array>& in) { return std::vector<Array>{chain(in[0])}; });
  for (auto _ : state) {
    Array y = fn({x})[0];
    eval(y);
    y.free();
  }
  state.SetBytesProcessed(state.iterations() * kElems * sizeof(float) * 2);
  state.counters["fused_kernels"] = static_cast<double>(fn.last_trace().fused_kernels);
  x.free();
  eval();
}
BENCHMARK(BM_chain_compiled)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
