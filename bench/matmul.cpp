// lathe matmul against OpenBLAS called directly on the same shapes: square
// float32 GEMM (GFLOP/s) and the batch-1 decode GEMV (GB/s of weights read).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <random>
#include <vector>

#include "lathe/lathe.h"

namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void set_gflops(benchmark::State& st, double flops_per_iter) {
  st.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_lathe_sgemm(benchmark::State& st) {
  const int64_t n = st.range(0);
  lathe::Array a = lathe::array(random_floats(n * n, 1), {n, n});
  lathe::Array b = lathe::array(random_floats(n * n, 2), {n, n});
  lathe::keep(a, b);
  for (auto _ : st) {
    lathe::Array y = lathe::matmul(a, b);
    lathe::eval(y);
    y.free();
  }
  set_gflops(st, 2.0 * n * n * n);
}

void BM_cblas_sgemm(benchmark::State& st) {
  const int64_t n = st.range(0);
  auto a = random_floats(n * n, 1), b = random_floats(n * n, 2);
  std::vector<float> c(n * n);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  set_gflops(st, 2.0 * n * n * n);
}

void set_gbps(benchmark::State& st, double bytes_per_iter) {
  st.counters["GB/s"] =
      benchmark::Counter(bytes_per_iter / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// x[1, K] @ transpose(W[N, K]), the decode step of a linear layer.
void lathe_gemv(benchmark::State& st, lathe::Dtype dt) {
  const int64_t n = st.range(0), k = st.range(0);
  lathe::Array x = lathe::array(random_floats(k, 3), {1, k}, dt);
  lathe::Array w = lathe::array(random_floats(n * k, 4), {n, k}, dt);
  lathe::keep(x, w);
  lathe::Array wt = lathe::transpose(w);
  lathe::keep(wt);
  for (auto _ : st) {
    lathe::Array y = lathe::matmul(x, wt);
    lathe::eval(y);
    y.free();
  }
  set_gbps(st, double(n) * k * dt.size());
}
void BM_lathe_gemv_bf16(benchmark::State& st) { lathe_gemv(st, lathe::bfloat16); }
void BM_lathe_gemv_f32(benchmark::State& st) { lathe_gemv(st, lathe::float32); }

void BM_cblas_sgemv(benchmark::State& st) {
  const int64_t n = st.range(0), k = st.range(0);
  auto x = random_floats(k, 3), w = random_floats(n * k, 4);
  std::vector<float> y(n);
  for (auto _ : st) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w.data(), k, x.data(), 1, 0.0f, y.data(),
                1);
    benchmark::DoNotOptimize(y.data());
  }
  set_gbps(st, double(n) * k * 4);
}

// The same decode product with 4-bit affine weights (group 64): bytes are the packed
// codes plus bfloat16 scales and biases.
void BM_lathe_qmm_q4(benchmark::State& st) {
  const int64_t n = st.range(0), k = st.range(0);
  lathe::Array x = lathe::array(random_floats(k, 3), {1, k}, lathe::bfloat16);
  lathe::Array w = lathe::array(random_floats(n * k, 4), {n, k}, lathe::bfloat16);
  auto q = lathe::quantize(w, 64, 4);
  lathe::keep(x, q.wq, q.scales, q.biases);
  for (auto _ : st) {
    lathe::Array y = lathe::quantized_matmul(x, q.wq, q.scales, q.biases);
    lathe::eval(y);
    y.free();
  }
  set_gbps(st, double(n) * k / 2 + double(n) * (k / 64) * 4);
}

// x[128, K] @ transpose(W[N, K]) with 16-bit weights: a linear layer during a 128-token
// prefill (Gemma-3-1B: hidden 1152, MLP 6912).
void lathe_prefill(benchmark::State& st, lathe::Dtype dt) {
  const int64_t m = 128, k = st.range(0), n = st.range(1);
  lathe::Array x = lathe::array(random_floats(m * k, 5), {m, k}, dt);
  lathe::Array w = lathe::array(random_floats(n * k, 6), {n, k}, dt);
  lathe::keep(x, w);
  lathe::Array wt = lathe::transpose(w);
  lathe::keep(wt);
  for (auto _ : st) {
    lathe::Array y = lathe::matmul(x, wt);
    lathe::eval(y);
    y.free();
  }
  set_gflops(st, 2.0 * m * n * k);
}
void BM_lathe_prefill_bf16(benchmark::State& st) { lathe_prefill(st, lathe::bfloat16); }
void BM_lathe_prefill_f16(benchmark::State& st) { lathe_prefill(st, lathe::float16); }
void BM_lathe_prefill_f32(benchmark::State& st) { lathe_prefill(st, lathe::float32); }

}  // namespace

BENCHMARK(BM_lathe_prefill_bf16)
    ->Args({384, 896})
    ->Args({896, 384})
    ->Args({1152, 1152})
    ->Args({1152, 6912})
    ->Args({6912, 1152})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_lathe_prefill_f16)->Args({1152, 6912})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_lathe_prefill_f32)
    ->Args({1152, 6912})
    ->Args({6912, 1152})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_lathe_sgemm)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_cblas_sgemm)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_lathe_gemv_bf16)->Arg(2048)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_lathe_gemv_f32)->Arg(2048)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_lathe_qmm_q4)->Arg(2048)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_cblas_sgemv)->Arg(2048)->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_MAIN();
