// Decode-shaped reductions over one vocabulary-sized row (1 x 131072): sum,
// max, argmax, logsumexp, softmax and topk, in float32 and bfloat16. GB/s
// counts one read of the row (plus the write for softmax).
#include <benchmark/benchmark.h>

#include <functional>

#include "lathe/lathe.h"

using namespace lathe;

namespace {

constexpr int64_t kVocab = 131072;

void run(benchmark::State& state, Dtype dt, const std::function<Array(const Array&)>& op,
         int64_t traffic_rows) {
  Array x = astype(random::normal({1, kVocab}, float32, random::key(1), 0.0, 4.0), dt);
  keep(x);
  eval(x);
  for (auto _ : state) {
    Array y = op(x);
    eval(y);
    y.free();
  }
  state.SetBytesProcessed(state.iterations() * kVocab * dt.size() * traffic_rows);
  x.free();
  eval();
}

#define LATHE_REDUCE_BENCH(name, expr, rows)                     \
  void BM_##name##_f32(benchmark::State& s) {                    \
    run(                                                         \
        s, float32, [](const Array& x) { return expr; }, rows);  \
  }                                                              \
  void BM_##name##_bf16(benchmark::State& s) {                   \
    run(                                                         \
        s, bfloat16, [](const Array& x) { return expr; }, rows); \
  }                                                              \
  BENCHMARK(BM_##name##_f32)->Unit(benchmark::kMicrosecond);     \
  BENCHMARK(BM_##name##_bf16)->Unit(benchmark::kMicrosecond);

LATHE_REDUCE_BENCH(sum, sum(x, -1), 1)
LATHE_REDUCE_BENCH(max, max(x, -1), 1)
LATHE_REDUCE_BENCH(argmax, argmax(x, -1), 1)
LATHE_REDUCE_BENCH(logsumexp, logsumexp(x, -1), 2)
LATHE_REDUCE_BENCH(softmax, softmax(x, -1), 2)
LATHE_REDUCE_BENCH(topk50, topk(x, 50, -1), 1)

}  // namespace

BENCHMARK_MAIN();
