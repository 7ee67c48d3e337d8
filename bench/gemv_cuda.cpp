// Batch-1 decode matmuls on the GPU: lathe's GEMV kernels (backend/cuda/gemv.h)
// against the cuBLAS call the matmul op made before (the same arguments) and
// against a large device-to-device copy measured in the same run. Shapes are
// the Linear layers of llama-3.1-8b, gemma-3-1b and gemma-3-4b (N x K, y = x W^T).
// GB/s counts the weight bytes read per product (with scales and biases for
// quantized weights); each product reads a different copy of W, cycling over
// more than 512 MB, so that no weight is served from the L2.
// Usage: bench_gemv_cuda        (prints markdown tables)
#include <cstdio>

#if LATHE_HAS_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lathe/backend/cuda/gemv.h"
#include "lathe/backend/cuda/runtime.h"

namespace {

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void ck(cublasStatus_t e, const char* what) {
  if (e != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "%s: cuBLAS status %d\n", what, int(e));
    std::exit(1);
  }
}

cudaStream_t stream;
cublasHandle_t blas;

// Device buffer of `bytes` filled with random bytes drawn by `gen` (a 16 MiB
// host block repeated), so that weights are not all alike.
struct DeviceBuffer {
  void* p = nullptr;
  size_t bytes = 0;
  DeviceBuffer(size_t n, const std::function<void(uint8_t*, size_t)>& gen) : bytes(n) {
    ck(cudaMalloc(&p, n), "cudaMalloc");
    const size_t block = std::min<size_t>(n, 16u << 20);
    std::vector<uint8_t> host(block);
    gen(host.data(), block);
    ck(cudaMemcpy(p, host.data(), block, cudaMemcpyHostToDevice), "fill");
    for (size_t off = block; off < n; off += block) {
      ck(cudaMemcpy(static_cast<char*>(p) + off, p, std::min(block, n - off),
                    cudaMemcpyDeviceToDevice),
         "fill");
    }
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  char* at(size_t off) const { return static_cast<char*>(p) + off; }
};

std::mt19937_64 rng(7);

// bfloat16 bits of values uniform in [lo, hi).
std::function<void(uint8_t*, size_t)> bf16_fill(float lo, float hi) {
  return [lo, hi](uint8_t* d, size_t n) {
    std::uniform_real_distribution<float> u(lo, hi);
    for (size_t i = 0; i + 1 < n; i += 2) {
      float f = u(rng);
      uint32_t b;
      std::memcpy(&b, &f, 4);
      const uint16_t h = uint16_t(b >> 16);
      std::memcpy(d + i, &h, 2);
    }
  };
}
std::function<void(uint8_t*, size_t)> f32_fill() {
  return [](uint8_t* d, size_t n) {
    std::uniform_real_distribution<float> u(-1, 1);
    for (size_t i = 0; i + 3 < n; i += 4) {
      float f = u(rng);
      std::memcpy(d + i, &f, 4);
    }
  };
}
std::function<void(uint8_t*, size_t)> byte_fill(int lo, int hi) {
  return [lo, hi](uint8_t* d, size_t n) {
    std::uniform_int_distribution<int> u(lo, hi);
    for (size_t i = 0; i < n; ++i) d[i] = uint8_t(u(rng));
  };
}

// Seconds per call of launch(i) (i cycles over the weight copies), timed with
// events over enough calls for ~50 ms.
double seconds_per_call(const std::function<void(int)>& launch) {
  cudaEvent_t a, b;
  ck(cudaEventCreate(&a), "event");
  ck(cudaEventCreate(&b), "event");
  auto timed = [&](int calls) {
    ck(cudaEventRecord(a, stream), "event");
    for (int i = 0; i < calls; ++i) launch(i);
    ck(cudaEventRecord(b, stream), "event");
    ck(cudaEventSynchronize(b), "event");
    float ms = 0;
    ck(cudaEventElapsedTime(&ms, a, b), "event");
    return ms / 1e3 / calls;
  };
  timed(3);
  const double est = timed(5);
  const int calls = static_cast<int>(std::clamp(0.05 / std::max(est, 1e-7), 5.0, 5000.0));
  const double s = timed(calls);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return s;
}

double copy_bandwidth() {
  const size_t bytes = size_t(1) << 30;
  void *src = nullptr, *dst = nullptr;
  ck(cudaMalloc(&src, bytes), "cudaMalloc");
  ck(cudaMalloc(&dst, bytes), "cudaMalloc");
  ck(cudaMemset(src, 1, bytes), "memset");
  const double s = seconds_per_call(
      [&](int) { ck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), "copy"); });
  cudaFree(src);
  cudaFree(dst);
  return 2.0 * bytes / s / 1e9;
}

struct Shape2 {
  const char* model;
  const char* layer;
  int64_t n, k;
  int per_token;  // products of this shape per decoded token
};

const Shape2 shapes[] = {
    {"llama-3.1-8b", "q_proj, o_proj", 4096, 4096, 64},
    {"llama-3.1-8b", "k_proj, v_proj", 1024, 4096, 64},
    {"llama-3.1-8b", "gate_proj, up_proj", 14336, 4096, 64},
    {"llama-3.1-8b", "down_proj", 4096, 14336, 32},
    {"llama-3.1-8b", "lm_head", 128256, 4096, 1},
    {"gemma-3-1b", "(hidden x hidden)", 1152, 1152, 0},
    {"gemma-3-1b", "q_proj", 1024, 1152, 26},
    {"gemma-3-1b", "o_proj", 1152, 1024, 26},
    {"gemma-3-1b", "k_proj, v_proj", 256, 1152, 52},
    {"gemma-3-1b", "gate_proj, up_proj", 6912, 1152, 52},
    {"gemma-3-1b", "down_proj", 1152, 6912, 26},
    {"gemma-3-1b", "lm_head", 262144, 1152, 1},
    {"gemma-3-4b", "q_proj", 2048, 2560, 34},
    {"gemma-3-4b", "o_proj", 2560, 2048, 34},
    {"gemma-3-4b", "k_proj, v_proj", 1024, 2560, 68},
    {"gemma-3-4b", "gate_proj, up_proj", 10240, 2560, 68},
    {"gemma-3-4b", "down_proj", 2560, 10240, 34},
    {"gemma-3-4b", "lm_head", 262208, 2560, 1},
};

int copies_for(size_t bytes) {
  return static_cast<int>(std::max<size_t>(1, ((size_t(512) << 20) + bytes - 1) / bytes));
}

cudaDataType_t blas_type(lathe::Dtype d) {
  return d == lathe::float32 ? CUDA_R_32F : d == lathe::float16 ? CUDA_R_16F : CUDA_R_16BF;
}

// Largest |a - b| over the largest |b| of two device vectors of dtype d.
double relative_difference(const void* a, const void* b, int64_t n, lathe::Dtype d) {
  auto read = [&](const void* p) {
    std::vector<float> out(n);
    if (d == lathe::float32) {
      ck(cudaMemcpy(out.data(), p, n * 4, cudaMemcpyDeviceToHost), "read");
      return out;
    }
    std::vector<uint16_t> h(n);
    ck(cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost), "read");
    for (int64_t i = 0; i < n; ++i) {
      uint32_t bits;
      if (d == lathe::bfloat16) {
        bits = uint32_t(h[i]) << 16;
      } else {  // float16
        const uint32_t s = (h[i] >> 15) & 1, e = (h[i] >> 10) & 31, m = h[i] & 1023;
        float f = e == 0 ? std::ldexp(float(m), -24) : std::ldexp(float(m | 1024), int(e) - 25);
        out[i] = s ? -f : f;
        continue;
      }
      std::memcpy(&out[i], &bits, 4);
    }
    return out;
  };
  std::vector<float> va = read(a), vb = read(b);
  double diff = 0, mag = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff = std::max(diff, double(std::fabs(va[i] - vb[i])));
    mag = std::max(mag, double(std::fabs(vb[i])));
  }
  return mag > 0 ? diff / mag : diff;
}

struct DenseResult {
  double gemv_s, blas_s, diff;
  size_t bytes;
};

DenseResult dense(int64_t n, int64_t k, int m, lathe::Dtype dt, int lg = 0, bool blas_too = true) {
  const size_t es = dt.size(), bytes = size_t(n) * k * es;
  const int copies = copies_for(bytes);
  // float16 reads the bfloat16 bits of [-1, 1] as halves of magnitude ~1-2 (finite).
  DeviceBuffer w(bytes * copies, dt == lathe::float32 ? f32_fill() : bf16_fill(-1, 1));
  DeviceBuffer x(size_t(m) * k * es, dt == lathe::float32 ? f32_fill() : bf16_fill(-1, 1));
  DeviceBuffer y1(size_t(m) * n * es, byte_fill(0, 0)), y2(size_t(m) * n * es, byte_fill(0, 0));
  lathe::cuda::GemvArgs g;
  g.dtype = dt;
  g.n = n;
  g.k = k;
  g.ldw = k;
  g.m = m;
  for (int i = 0; i < m; ++i) g.x[i] = x.at(size_t(i) * k * es);
  g.y = y1.p;
  g.ldy = n;
  g.threads_per_row_log2 = lg;
  if (!lathe::cuda::gemv_fits(g)) {
    std::fprintf(stderr, "shape %lldx%lld does not fit the GEMV\n", (long long)n, (long long)k);
    std::exit(1);
  }
  auto run_gemv = [&](int i) {
    g.w = w.at(size_t(i % copies) * bytes);
    lathe::cuda::launch_gemv(g, stream);
  };
  const float one = 1.0f, zero = 0.0f;
  const cudaDataType_t t = blas_type(dt);
  // What Matmul::eval_cuda called: out^T (n x m) = W (n x k, read transposed) @ x^T.
  auto run_blas = [&](int i) {
    ck(cublasGemmStridedBatchedEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &one,
                                  w.at(size_t(i % copies) * bytes), t, k, 0, x.p, t, k, 0, &zero,
                                  y2.p, t, n, int64_t(m) * n, 1, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT),
       "cublas");
  };
  run_gemv(0);
  run_blas(0);
  ck(cudaStreamSynchronize(stream), "sync");
  DenseResult r{};
  r.diff = relative_difference(y1.p, y2.p, int64_t(m) * n, dt);
  r.gemv_s = seconds_per_call(run_gemv);
  r.blas_s = blas_too ? seconds_per_call(run_blas) : 0;
  r.bytes = bytes;
  return r;
}

struct QuantResult {
  double gemv_s, generic_s, diff;
  size_t bytes;
};

// mode: 4 or 8 (affine, group 64, bfloat16 scales and biases) or 0 (mxfp4).
QuantResult quantized(int64_t n, int64_t k, int m, int mode, bool generic, int lg = 0) {
  const int bits = mode == 0 ? 4 : mode;
  const int gs = mode == 0 ? 32 : 64;
  const size_t code_bytes = size_t(n) * k * bits / 8;
  const size_t groups = size_t(n) * (k / gs);
  const size_t param_bytes = mode == 0 ? groups : groups * 2;  // per array
  const size_t bytes = code_bytes + param_bytes * (mode == 0 ? 1 : 2);
  const int copies = copies_for(bytes);
  DeviceBuffer wq(code_bytes * copies, byte_fill(0, 255));
  DeviceBuffer sc(param_bytes * copies, mode == 0 ? byte_fill(118, 124) : bf16_fill(0.01f, 0.02f));
  DeviceBuffer bi(mode == 0 ? 16 : param_bytes * copies, bf16_fill(-0.1f, -0.05f));
  DeviceBuffer xb(size_t(m) * k * 2, bf16_fill(-1, 1));
  DeviceBuffer xf(size_t(m) * k * 4, f32_fill());
  DeviceBuffer y1(size_t(m) * n * 4, byte_fill(0, 0)), y2(size_t(m) * n * 4, byte_fill(0, 0));
  lathe::cuda::QGemvArgs g;
  g.bits = bits;
  g.group_size = gs;
  g.mxfp4 = mode == 0;
  g.scale_dtype = mode == 0 ? lathe::uint8 : lathe::bfloat16;
  g.n = n;
  g.k = k;
  g.m = m;
  g.x = xf.p;
  g.x_dtype = lathe::float32;
  g.y_dtype = lathe::float32;
  g.threads_per_row_log2 = lg;
  auto at = [&](int i) {
    const size_t c = size_t(i % copies);
    g.wq = wq.at(c * code_bytes);
    g.scales = sc.at(c * param_bytes);
    g.biases = mode == 0 ? nullptr : bi.at(c * param_bytes);
  };
  at(0);
  if (!lathe::cuda::qgemv_fits(g)) {
    std::fprintf(stderr, "quantized shape does not fit\n");
    std::exit(1);
  }
  QuantResult r{};
  r.bytes = bytes;
  // Correctness against the generic kernel (both from float32 x).
  g.y = y1.p;
  lathe::cuda::launch_qgemv(g, stream);
  g.y = y2.p;
  lathe::cuda::launch_qmm_generic(g, stream);
  ck(cudaStreamSynchronize(stream), "sync");
  r.diff = relative_difference(y1.p, y2.p, int64_t(m) * n, lathe::float32);
  if (generic) {
    r.generic_s = seconds_per_call([&](int i) {
      at(i);
      lathe::cuda::launch_qmm_generic(g, stream);
    });
  }
  // The decode case: bfloat16 x (a model's activations), float32 out.
  g.x = xb.p;
  g.x_dtype = lathe::bfloat16;
  g.y = y1.p;
  r.gemv_s = seconds_per_call([&](int i) {
    at(i);
    lathe::cuda::launch_qgemv(g, stream);
  });
  return r;
}

double gbps(size_t bytes, double s) { return bytes / s / 1e9; }

}  // namespace

int main() {
  // lathe's stream of this thread: the GEMV's scratch buffers are ordered on it.
  stream = lathe::cuda::current_stream();
  ck(cublasCreate(&blas), "cublas");
  ck(cublasSetStream(blas, stream), "cublas");
  cudaDeviceProp prop{};
  ck(cudaGetDeviceProperties(&prop, 0), "device");
  int rt = 0, drv = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  int cublas_version = 0;
  cublasGetVersion(blas, &cublas_version);
  std::printf("device: %s, %d SMs, %.0f GiB; CUDA runtime %d, driver %d, cuBLAS %d\n", prop.name,
              prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, rt, drv,
              cublas_version);
  const double copy_before = copy_bandwidth();
  std::printf("copy bandwidth (1 GiB device-to-device, read + write): %.0f GB/s\n\n", copy_before);

  std::printf("## bfloat16, M = 1: GB/s of weights (fraction of the copy bandwidth)\n\n");
  std::printf(
      "| model | layer | N x K | MB | lathe GEMV | cuBLAS | GEMV / cuBLAS | max rel diff |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  struct Total {
    double bytes = 0, gemv = 0, blas = 0;
  };
  std::vector<std::pair<std::string, Total>> totals;
  for (const Shape2& s : shapes) {
    DenseResult r = dense(s.n, s.k, 1, lathe::bfloat16);
    const double g = gbps(r.bytes, r.gemv_s), b = gbps(r.bytes, r.blas_s);
    std::printf("| %s | %s | %lldx%lld | %.1f | %.0f (%.0f%%) | %.0f (%.0f%%) | %.2fx | %.1e |\n",
                s.model, s.layer, (long long)s.n, (long long)s.k, r.bytes / 1e6, g,
                100 * g / copy_before, b, 100 * b / copy_before, r.blas_s / r.gemv_s, r.diff);
    if (totals.empty() || totals.back().first != s.model) totals.push_back({s.model, {}});
    Total& t = totals.back().second;
    t.bytes += double(r.bytes) * s.per_token;
    t.gemv += r.gemv_s * s.per_token;
    t.blas += r.blas_s * s.per_token;
  }
  std::printf("\nPer token (every Linear of the model once, lm_head included):\n\n");
  std::printf(
      "| model | weight GB | lathe GEMV ms (GB/s, %% of copy) | cuBLAS ms (GB/s, %% of copy) |\n");
  std::printf("|---|---|---|---|\n");
  for (auto& [name, t] : totals) {
    std::printf("| %s | %.2f | %.3f (%.0f, %.0f%%) | %.3f (%.0f, %.0f%%) |\n", name.c_str(),
                t.bytes / 1e9, t.gemv * 1e3, t.bytes / t.gemv / 1e9,
                100 * t.bytes / t.gemv / 1e9 / copy_before, t.blas * 1e3, t.bytes / t.blas / 1e9,
                100 * t.bytes / t.blas / 1e9 / copy_before);
  }

  std::printf("\n## More rows of x and other dtypes (GB/s of weights)\n\n");
  std::printf("| dtype | N x K | M | lathe GEMV | cuBLAS | GEMV / cuBLAS | max rel diff |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (auto [n, k] : {std::pair<int64_t, int64_t>{4096, 4096}, {14336, 4096}}) {
    for (lathe::Dtype dt : {lathe::bfloat16, lathe::float16, lathe::float32}) {
      for (int m : {1, 2, 4, 8}) {
        if (dt != lathe::bfloat16 && m != 1) continue;
        DenseResult r = dense(n, k, m, dt);
        std::printf("| %s | %lldx%lld | %d | %.0f (%.0f%%) | %.0f (%.0f%%) | %.2fx | %.1e |\n",
                    dt.name(), (long long)n, (long long)k, m, gbps(r.bytes, r.gemv_s),
                    100 * gbps(r.bytes, r.gemv_s) / copy_before, gbps(r.bytes, r.blas_s),
                    100 * gbps(r.bytes, r.blas_s) / copy_before, r.blas_s / r.gemv_s, r.diff);
      }
    }
  }

  std::printf("\n## Quantized, M = 1, bfloat16 x: GB/s of codes + scales + biases\n\n");
  std::printf(
      "4-bit and 8-bit: MLX affine, group 64, bfloat16 scales and biases; mxfp4: E2M1 + "
      "E8M0 per 32. 'generic' is the kernel the op used before (a warp per output).\n\n");
  std::printf(
      "| model | N x K | 4-bit MB | 4-bit GEMV | 4-bit generic | 8-bit GEMV | mxfp4 GEMV "
      "| max rel diff 4/8/mx |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  Total q4;
  std::vector<std::pair<std::string, Total>> qtotals;
  for (const Shape2& s : shapes) {
    const bool llama = std::string(s.model) == "llama-3.1-8b";
    QuantResult r4 = quantized(s.n, s.k, 1, 4, llama);
    QuantResult r8 = quantized(s.n, s.k, 1, 8, false);
    QuantResult rm = quantized(s.n, s.k, 1, 0, false);
    const double g4 = gbps(r4.bytes, r4.gemv_s);
    std::string generic = "—";
    if (llama) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.0f (%.1f%%)", gbps(r4.bytes, r4.generic_s),
                    100 * gbps(r4.bytes, r4.generic_s) / copy_before);
      generic = buf;
    }
    std::printf(
        "| %s | %lldx%lld | %.1f | %.0f (%.0f%%) | %s | %.0f (%.0f%%) | %.0f (%.0f%%) | "
        "%.0e / %.0e / %.0e |\n",
        s.model, (long long)s.n, (long long)s.k, r4.bytes / 1e6, g4, 100 * g4 / copy_before,
        generic.c_str(), gbps(r8.bytes, r8.gemv_s), 100 * gbps(r8.bytes, r8.gemv_s) / copy_before,
        gbps(rm.bytes, rm.gemv_s), 100 * gbps(rm.bytes, rm.gemv_s) / copy_before, r4.diff, r8.diff,
        rm.diff);
    if (qtotals.empty() || qtotals.back().first != s.model) qtotals.push_back({s.model, {}});
    Total& t = qtotals.back().second;
    t.bytes += double(r4.bytes) * s.per_token;
    t.gemv += r4.gemv_s * s.per_token;
  }
  std::printf(
      "\nPer token, 4-bit:\n\n| model | GB | ms | GB/s | %% of copy |\n|---|---|---|---|---|\n");
  for (auto& [name, t] : qtotals) {
    std::printf("| %s | %.2f | %.3f | %.0f | %.0f%% |\n", name.c_str(), t.bytes / 1e9, t.gemv * 1e3,
                t.bytes / t.gemv / 1e9, 100 * t.bytes / t.gemv / 1e9 / copy_before);
  }
  std::printf(
      "\n## Quantized 4-bit, more rows of x (GB/s)\n\n| N x K | M | 4-bit GEMV |\n|---|---|---|\n");
  for (int m : {2, 4, 8}) {
    QuantResult r = quantized(4096, 4096, m, 4, false);
    std::printf("| 4096x4096 | %d | %.0f (%.0f%%) |\n", m, gbps(r.bytes, r.gemv_s),
                100 * gbps(r.bytes, r.gemv_s) / copy_before);
  }
  std::printf(
      "\n## Threads per row (M = 1): GB/s with the launch's choice and with each "
      "fixed width\n\n| kernel | N x K | chosen | 32 | 64 | 128 | 256 |\n"
      "|---|---|---|---|---|---|---|\n");
  for (auto [n, k] : {std::pair<int64_t, int64_t>{4096, 4096},
                      {1024, 4096},
                      {14336, 4096},
                      {4096, 14336},
                      {1152, 1152},
                      {256, 1152},
                      {6912, 1152},
                      {1152, 6912}}) {
    for (int mode : {-1, 4}) {
      std::printf("| %s | %lldx%lld |", mode < 0 ? "bf16" : "4-bit", (long long)n, (long long)k);
      for (int lg : {0, 5, 6, 7, 8}) {
        if (mode < 0) {
          DenseResult r = dense(n, k, 1, lathe::bfloat16, lg, false);
          std::printf(" %.0f |", gbps(r.bytes, r.gemv_s));
        } else {
          QuantResult r = quantized(n, k, 1, mode, false, lg);
          std::printf(" %.0f |", gbps(r.bytes, r.gemv_s));
        }
      }
      std::printf("\n");
    }
  }
  const double copy_after = copy_bandwidth();
  std::printf("\ncopy bandwidth again at the end: %.0f GB/s\n", copy_after);
  cublasDestroy(blas);
  return 0;
}

#else

int main() {
  std::puts("bench_gemv_cuda: built without CUDA (use the cuda preset)");
  return 0;
}

#endif
