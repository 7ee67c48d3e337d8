// scaled_dot_product_attention on the GPU: the fast kernels (split-KV decode,
// tensor-core prefill) against the generic one-block-per-query-row kernel.
// Each figure is the median of CUDA-event timings around graph replays of the
// primitive alone (no graph building or scheduling), so that short decode
// kernels are not hidden behind launch overhead. Decode reports GB/s of K + V
// read once, beside the device-to-device copy bandwidth measured in the same
// run; prefill reports TFLOP/s (4 * d flops per attended (query, key) pair).
// CUDA builds only. Usage: bench_attention_gpu [--no-generic | --once]
// (--once: one call of a decode and a prefill shape, for profilers such as ncu)
#include <cstdio>

#if LATHE_HAS_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lathe/backend/cuda/attention.h"
#include "lathe/backend/cuda/runtime.h"
#include "lathe/lathe.h"

namespace {

using lathe::Array;

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

Array random_array(lathe::Shape shape, lathe::Dtype dt, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(lathe::shape_size(shape));
  for (auto& x : v) x = d(rng);
  Array a = lathe::array(v, std::move(shape), dt);
  lathe::keep(a);
  lathe::eval(a);
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Milliseconds per evaluation of y's primitive (y unevaluated, inputs evaluated).
double time_primitive(const Array& y, double budget_ms = 300.0) {
  lathe::detail::Node& out = y.node();
  lathe::Primitive& prim = *out.primitive;
  lathe::NodeList in;
  for (auto& p : out.inputs) in.push_back(p.get());
  cudaStream_t s = lathe::cuda::current_stream();
  cudaEvent_t e0, e1;
  cuda_ok(cudaEventCreate(&e0), "event");
  cuda_ok(cudaEventCreate(&e1), "event");
  // Warm up (module load, attributes, allocator cache) and estimate one call.
  prim.eval_cuda(in, out);
  cuda_ok(cudaStreamSynchronize(s), "warm-up");
  cuda_ok(cudaEventRecord(e0, s), "record");
  prim.eval_cuda(in, out);
  cuda_ok(cudaEventRecord(e1, s), "record");
  cuda_ok(cudaEventSynchronize(e1), "sync");
  float one = 0;
  cuda_ok(cudaEventElapsedTime(&one, e0, e1), "elapsed");
  const int per_graph = std::clamp(static_cast<int>(2.0 / std::max(one, 1e-4f)), 1, 100);
  const int replays =
      std::clamp(static_cast<int>(budget_ms / (per_graph * std::max(one, 1e-4f))), 3, 200);

  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool graphed = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed) == cudaSuccess;
  if (graphed) {
    for (int i = 0; i < per_graph; ++i) prim.eval_cuda(in, out);
    graphed = cudaStreamEndCapture(s, &graph) == cudaSuccess &&
              cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  }
  cudaGetLastError();
  std::vector<double> times;
  for (int r = 0; r < replays + 1; ++r) {
    cuda_ok(cudaEventRecord(e0, s), "record");
    if (graphed) {
      cuda_ok(cudaGraphLaunch(exec, s), "graph launch");
    } else {
      for (int i = 0; i < per_graph; ++i) prim.eval_cuda(in, out);
    }
    cuda_ok(cudaEventRecord(e1, s), "record");
    cuda_ok(cudaEventSynchronize(e1), "sync");
    float ms = 0;
    cuda_ok(cudaEventElapsedTime(&ms, e0, e1), "elapsed");
    if (r > 0) times.push_back(ms / per_graph);
  }
  if (exec) cudaGraphExecDestroy(exec);
  if (graph) cudaGraphDestroy(graph);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (!graphed) std::printf("  (graph capture failed: timed plain launches)\n");
  return median(times);
}

// Device-to-device copy bandwidth, bytes read + written.
double copy_gbps() {
  const size_t n = size_t(1) << 31;
  void *a = nullptr, *b = nullptr;
  cuda_ok(cudaMalloc(&a, n), "malloc");
  cuda_ok(cudaMalloc(&b, n), "malloc");
  cuda_ok(cudaMemset(a, 1, n), "memset");
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<double> t;
  for (int i = 0; i < 11; ++i) {
    cudaEventRecord(e0);
    cuda_ok(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice), "copy");
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i > 0) t.push_back(ms);
  }
  cudaFree(a);
  cudaFree(b);
  return 2.0 * n / (median(t) * 1e-3) / 1e9;
}

struct Timing {
  double fast_ms, generic_ms;
};

Timing time_both(const Array& q, const Array& k, const Array& v, float scale,
                 const lathe::fast::AttentionOptions& o, bool generic) {
  Timing t{0, 0};
  lathe::cuda::set_attention_kernels(lathe::cuda::AttentionKernels::fast);
  t.fast_ms = time_primitive(lathe::fast::scaled_dot_product_attention(q, k, v, scale, o));
  if (generic) {
    lathe::cuda::set_attention_kernels(lathe::cuda::AttentionKernels::generic_only);
    t.generic_ms =
        time_primitive(lathe::fast::scaled_dot_product_attention(q, k, v, scale, o), 1000.0);
    lathe::cuda::set_attention_kernels(lathe::cuda::AttentionKernels::fast);
  }
  return t;
}

void decode(const char* name, int64_t hq, int64_t hkv, int64_t d, int64_t tk, double copy,
            bool generic) {
  Array q = random_array({1, hq, 1, d}, lathe::bfloat16, 1);
  Array k = random_array({1, hkv, tk, d}, lathe::bfloat16, 2);
  Array v = random_array({1, hkv, tk, d}, lathe::bfloat16, 3);
  lathe::fast::AttentionOptions o;
  o.causal = true;
  Timing t = time_both(q, k, v, 1.0f / std::sqrt(float(d)), o, generic);
  const double bytes = 2.0 * hkv * tk * d * 2;
  const double gbps = bytes / (t.fast_ms * 1e-3) / 1e9;
  std::printf(
      "decode %-8s q[1,%ld,1,%ld] kv[1,%ld,%6ld,%ld] bf16 | fast %8.4f ms %7.0f GB/s (%4.1f%% of "
      "copy)",
      name, long(hq), long(d), long(hkv), long(tk), long(d), t.fast_ms, gbps, 100.0 * gbps / copy);
  if (generic) {
    std::printf(" | generic %8.4f ms %7.0f GB/s | speedup %5.1fx", t.generic_ms,
                bytes / (t.generic_ms * 1e-3) / 1e9, t.generic_ms / t.fast_ms);
  }
  std::printf("\n");
  q.free();
  k.free();
  v.free();
}

void prefill(const char* name, int64_t hq, int64_t hkv, int64_t d, int64_t t_len, int window,
             bool generic) {
  Array q = random_array({1, hq, t_len, d}, lathe::bfloat16, 4);
  Array k = random_array({1, hkv, t_len, d}, lathe::bfloat16, 5);
  Array v = random_array({1, hkv, t_len, d}, lathe::bfloat16, 6);
  lathe::fast::AttentionOptions o;
  o.causal = true;
  o.window = window;
  Timing t = time_both(q, k, v, 1.0f / std::sqrt(float(d)), o, generic);
  double pairs = 0;
  for (int64_t i = 0; i < t_len; ++i)
    pairs += window > 0 ? std::min<int64_t>(i + 1, window) : i + 1;
  const double flops = 4.0 * d * hq * pairs;
  std::printf(
      "prefill %-8s [1,%ld,%ld,%ld] kv heads %ld causal%s bf16 | fast %8.3f ms %6.1f TFLOP/s", name,
      long(hq), long(t_len), long(d), long(hkv),
      window > 0 ? (" window " + std::to_string(window)).c_str() : "", t.fast_ms,
      flops / (t.fast_ms * 1e-3) / 1e12);
  if (generic) {
    std::printf(" | generic %9.3f ms %6.2f TFLOP/s | speedup %5.1fx", t.generic_ms,
                flops / (t.generic_ms * 1e-3) / 1e12, t.generic_ms / t.fast_ms);
  }
  std::printf("\n");
  q.free();
  k.free();
  v.free();
}

}  // namespace

// One call of each main shape (for profilers).
void once() {
  for (int64_t tk : {32768}) {
    Array q = random_array({1, 32, 1, 128}, lathe::bfloat16, 1);
    Array k = random_array({1, 8, tk, 128}, lathe::bfloat16, 2);
    Array v = random_array({1, 8, tk, 128}, lathe::bfloat16, 3);
    lathe::fast::AttentionOptions o;
    o.causal = true;
    lathe::eval(lathe::fast::scaled_dot_product_attention(q, k, v, 0.1f, o));
  }
  Array q = random_array({1, 32, 2048, 128}, lathe::bfloat16, 4);
  Array k = random_array({1, 8, 2048, 128}, lathe::bfloat16, 5);
  Array v = random_array({1, 8, 2048, 128}, lathe::bfloat16, 6);
  lathe::fast::AttentionOptions o;
  o.causal = true;
  lathe::eval(lathe::fast::scaled_dot_product_attention(q, k, v, 0.1f, o));
}

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--once") == 0) {
    lathe::set_default_device(lathe::Device::cuda);
    once();
    return 0;
  }
  const bool generic = !(argc > 1 && std::strcmp(argv[1], "--no-generic") == 0);
  lathe::set_default_device(lathe::Device::cuda);
  cudaDeviceProp prop{};
  cuda_ok(cudaGetDeviceProperties(&prop, 0), "device");
  const double copy = copy_gbps();
  std::printf("device %s, %d SMs; device-to-device copy %.0f GB/s (read + write)\n", prop.name,
              prop.multiProcessorCount, copy);
  for (int64_t tk : {512, 8192, 32768}) decode("llama-8b", 32, 8, 128, tk, copy, generic);
  for (int64_t tk : {512, 8192, 32768}) decode("gemma-1b", 4, 1, 256, tk, copy, generic);
  decode("gqa-8:1", 64, 8, 128, 32768, copy, generic);
  decode("llama-8b", 32, 8, 128, 131072, copy, false);
  prefill("llama-8b", 32, 8, 128, 2048, 0, generic);
  prefill("gemma-1b", 4, 1, 256, 2048, 512, generic);
  prefill("gemma-1b", 4, 1, 256, 2048, 0, generic);
  prefill("d64", 32, 8, 64, 2048, 0, generic);
  prefill("llama-8b", 32, 8, 128, 8192, 0, false);
  return 0;
}

#else

int main() {
  std::puts("bench_attention_gpu: built without CUDA (use the cuda preset)");
  return 0;
}

#endif
