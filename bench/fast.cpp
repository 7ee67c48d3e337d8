// Fused ops on model-sized shapes: attention decode over a long KV cache (GB/s
// of K and V read), a causal prefill chunk, rms_norm and rope, fused against
// their slow twins.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "lathe/lathe.h"

namespace {

lathe::Array random_array(lathe::Shape shape, lathe::Dtype dt, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(lathe::shape_size(shape));
  for (auto& x : v) x = d(rng);
  return lathe::array(v, std::move(shape), dt);
}

void set_gbps(benchmark::State& st, double bytes_per_iter) {
  st.counters["GB/s"] =
      benchmark::Counter(bytes_per_iter / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

template <typename F>
void run(benchmark::State& st, F&& f) {
  for (auto _ : st) {
    lathe::Array y = f();
    lathe::eval(y);
    y.free();
  }
}

// Llama-3-8B-like decode: 32 query heads over 8 kv heads, head dim 128; range(0) keys.
void attention_decode(benchmark::State& st, lathe::Dtype dt, bool twin) {
  const int64_t tk = st.range(0);
  lathe::Array q = random_array({1, 32, 1, 128}, dt, 1);
  lathe::Array k = random_array({1, 8, tk, 128}, dt, 2);
  lathe::Array v = random_array({1, 8, tk, 128}, dt, 3);
  lathe::keep(q, k, v);
  lathe::fast::AttentionOptions o;
  o.causal = true;
  run(st, [&] {
    return twin ? lathe::fast::scaled_dot_product_attention_reference(q, k, v, 0.088f, o)
                : lathe::fast::scaled_dot_product_attention(q, k, v, 0.088f, o);
  });
  set_gbps(st, 2.0 * 8 * tk * 128 * dt.size());
}
void BM_attention_decode_bf16(benchmark::State& st) {
  attention_decode(st, lathe::bfloat16, false);
}
void BM_attention_decode_f32(benchmark::State& st) { attention_decode(st, lathe::float32, false); }
void BM_attention_decode_f32_twin(benchmark::State& st) {
  attention_decode(st, lathe::float32, true);
}

// A 256-token causal prefill chunk after range(0) cached tokens, 8 heads of 128.
void BM_attention_prefill_f32(benchmark::State& st) {
  const int64_t tq = 256, tk = tq + st.range(0);
  lathe::Array q = random_array({1, 8, tq, 128}, lathe::float32, 4);
  lathe::Array k = random_array({1, 8, tk, 128}, lathe::float32, 5);
  lathe::Array v = random_array({1, 8, tk, 128}, lathe::float32, 6);
  lathe::keep(q, k, v);
  lathe::fast::AttentionOptions o;
  o.causal = true;
  run(st, [&] { return lathe::fast::scaled_dot_product_attention(q, k, v, 0.088f, o); });
}

void rms_norm(benchmark::State& st, bool twin) {
  const int64_t rows = st.range(0);
  lathe::Array x = random_array({rows, 4096}, lathe::bfloat16, 7);
  lathe::Array w = random_array({4096}, lathe::bfloat16, 8);
  lathe::keep(x, w);
  run(st, [&] {
    return twin ? lathe::fast::rms_norm_reference(x, w, 1e-5f) : lathe::fast::rms_norm(x, w, 1e-5f);
  });
  set_gbps(st, 2.0 * rows * 4096 * 2);
}
void BM_rms_norm_bf16(benchmark::State& st) { rms_norm(st, false); }
void BM_rms_norm_bf16_twin(benchmark::State& st) { rms_norm(st, true); }

void rope(benchmark::State& st, bool twin) {
  const int64_t t = st.range(0);
  lathe::Array x = random_array({1, 32, t, 128}, lathe::bfloat16, 9);
  lathe::keep(x);
  run(st, [&] {
    return twin ? lathe::fast::rope_reference(x, 128, false, 500000.0f, 1.0f, 100)
                : lathe::fast::rope(x, 128, false, 500000.0f, 1.0f, 100);
  });
  set_gbps(st, 2.0 * 32 * t * 128 * 2);
}
void BM_rope_bf16(benchmark::State& st) { rope(st, false); }
void BM_rope_bf16_twin(benchmark::State& st) { rope(st, true); }

}  // namespace

BENCHMARK(BM_attention_decode_bf16)->Arg(4096)->Arg(32768)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_attention_decode_f32)->Arg(4096)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_attention_decode_f32_twin)->Arg(4096)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_attention_prefill_f32)->Arg(0)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rms_norm_bf16)->Arg(1)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rms_norm_bf16_twin)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rope_bf16)->Arg(1)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rope_bf16_twin)->Arg(512)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
