// compile() on the GPU: a 10-op elementwise chain on 16M elements (bfloat16
// and float32) as one run-time compiled kernel against the unfused graph (one
// kernel per op), in GB/s of the chain's own traffic (read x, write y) beside
// a device-to-device copy of the same bytes timed the same way in this run;
// and the first call's latency (trace, then NVRTC compile or disk-cache load).
// Usage: bench_compile_cuda [elements] [calls per timing]. The disk cache is
// $LATHE_KERNEL_CACHE: run twice on one empty folder for cold, then warm.
#include <cstdio>
#include <cstdlib>

#include "lathe/lathe.h"

#ifdef LATHE_HAS_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "lathe/backend/cuda/runtime.h"

using namespace lathe;

namespace {

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

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Milliseconds between two events recorded on lathe's stream around f().
template <typename F>
double device_ms(F&& f) {
  cudaStream_t s = cuda::current_stream();
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "event");
  check(cudaEventCreate(&b), "event");
  check(cudaEventRecord(a, s), "event");
  f();
  check(cudaEventRecord(b, s), "event");
  check(cudaEventSynchronize(b), "event");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, a, b), "event");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double wall_ms(const std::chrono::steady_clock::time_point& t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// `calls` independent results of fn on x in one eval (so the host records
// and launches while the GPU works), as milliseconds a call (median of 5).
double ms_per_call(const std::function<Array(const Array&)>& fn, const Array& x, int calls) {
  std::vector<double> runs;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<Array> ys;
    for (int i = 0; i < calls; ++i) ys.push_back(fn(x));
    runs.push_back(device_ms([&] { eval(ys); }) / calls);
    for (auto& y : ys) y.free();
    eval();
  }
  return median(runs);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : int64_t{1} << 24;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 50;
  if (!cuda_available()) {
    std::printf("no GPU: nothing to measure\n");
    return 0;
  }
  set_default_device(Device::cuda);
  const char* cache = std::getenv("LATHE_KERNEL_CACHE");
  std::printf("elements %lld, %d calls a timing, disk cache %s\n", static_cast<long long>(n), calls,
              cache ? cache : "(default)");
  std::printf(
      "| dtype | copy GB/s | fused GB/s | unfused GB/s | fused/copy | unfused/copy | "
      "fused speedup | first call ms | steady call ms | NVRTC ms | kernel from |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (Dtype dt : {bfloat16, float32}) {
    Array x = astype(arange(0.0, static_cast<double>(n), 1.0, float32) * (1.0f / n), dt);
    keep(x);
    eval(x);
    const double bytes = 2.0 * static_cast<double>(n) * dt.size();  // read x, write y

    // Copy of the same bytes, timed the same way.
    void* dst = nullptr;
    check(cudaMalloc(&dst, n * dt.size()), "malloc");
    std::vector<double> copy_runs;
    for (int rep = 0; rep < 5; ++rep) {
      copy_runs.push_back(device_ms([&] {
                            for (int i = 0; i < calls; ++i) {
                              check(
                                  cudaMemcpyAsync(dst, x.node().raw(), n * dt.size(),
                                                  cudaMemcpyDeviceToDevice, cuda::current_stream()),
                                  "copy");
                            }
                          }) /
                          calls);
    }
    check(cudaFree(dst), "free");
    const double copy_ms = median(copy_runs);

    // First call of a fresh compiled function: trace, kernel (compiled or loaded), run.
    auto cf =
        compile([](const std::vector<Array>& in) { return std::vector<Array>{chain(in[0])}; });
    FusedKernelStats before = fused_kernel_stats();
    auto t0 = std::chrono::steady_clock::now();
    {
      Array y = cf({x})[0];
      eval(y);
      y.free();
    }
    const double first_ms = wall_ms(t0);
    FusedKernelStats after = fused_kernel_stats();
    t0 = std::chrono::steady_clock::now();
    {
      Array y = cf({x})[0];
      eval(y);
      y.free();
    }
    const double steady_ms = wall_ms(t0);
    eval();
    std::string from = after.compiles > before.compiles     ? "NVRTC"
                       : after.disk_hits > before.disk_hits ? "disk cache"
                       : after.launches > before.launches   ? "memory"
                                                            : "op by op: " + after.last_failure;

    auto fused = [&](const Array& a) { return cf({a})[0]; };
    const double fused_ms = ms_per_call(fused, x, calls);
    const double unfused_ms = ms_per_call(chain, x, calls);
    auto gbs = [&](double ms) { return bytes / (ms * 1e-3) / 1e9; };
    std::printf("| %s | %.0f | %.0f | %.0f | %.0f%% | %.0f%% | %.2fx | %.1f | %.2f | %.1f | %s |\n",
                dt.name(), gbs(copy_ms), gbs(fused_ms), gbs(unfused_ms), 100 * copy_ms / fused_ms,
                100 * copy_ms / unfused_ms, unfused_ms / fused_ms, first_ms, steady_ms,
                (after.compile_seconds - before.compile_seconds) * 1e3, from.c_str());
    x.free();
    eval();
  }
  FusedKernelStats s = fused_kernel_stats();
  std::printf(
      "kernels: %zu launches, %zu fallbacks, %zu compiled, %zu from disk, %zu written, "
      "%zu rejected\n",
      s.launches, s.fallbacks, s.compiles, s.disk_hits, s.disk_writes, s.disk_rejected);
  return 0;
}

#else

int main() {
  std::printf("lathe was built without the CUDA backend: nothing to measure\n");
  return 0;
}

#endif
