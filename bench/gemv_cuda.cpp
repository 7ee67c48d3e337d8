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

// Seconds per call of launch(i), the calls captured once into a CUDA graph and
// replayed: no host launch cost, the GPU's own gap between kernels remains.
double seconds_per_call_graph(const std::function<void(int)>& launch) {
  constexpr int kCalls = 200;
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  ck(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capture");
  for (int i = 0; i < kCalls; ++i) launch(i);
  ck(cudaStreamEndCapture(stream, &graph), "capture");
  ck(cudaGraphInstantiate(&exec, graph, 0), "graph");
  const double s = seconds_per_call([&](int) { ck(cudaGraphLaunch(exec, stream), "graph"); });
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  return s / kCalls;
}

// One dense shape: W copies (cycled), x, and the outputs of both kernels.
struct Dense {
  int64_t n, k;
  int m;
  lathe::Dtype dt;
  size_t bytes;
  int copies;
  DeviceBuffer w, x, y1, y2;
  lathe::cuda::GemvArgs g;

  Dense(int64_t n_, int64_t k_, int m_, lathe::Dtype dt_)
      : n(n_),
        k(k_),
        m(m_),
        dt(dt_),
        bytes(size_t(n_) * k_ * dt_.size()),
        copies(copies_for(bytes)),
        // float16 reads the bfloat16 bits of [-1, 1] as halves of magnitude ~1-2 (finite).
        w(bytes * copies, dt == lathe::float32 ? f32_fill() : bf16_fill(-1, 1)),
        x(size_t(m_) * k_ * dt_.size(), dt == lathe::float32 ? f32_fill() : bf16_fill(-1, 1)),
        y1(size_t(m_) * n_ * dt_.size(), byte_fill(0, 0)),
        y2(size_t(m_) * n_ * dt_.size(), byte_fill(0, 0)) {
    g.dtype = dt;
    g.n = n;
    g.k = k;
    g.ldw = k;
    g.m = m;
    for (int i = 0; i < m; ++i) g.x[i] = x.at(size_t(i) * k * dt.size());
    g.y = y1.p;
    g.ldy = n;
    if (!lathe::cuda::gemv_fits(g)) {
      std::fprintf(stderr, "shape %lldx%lld does not fit the GEMV\n", (long long)n, (long long)k);
      std::exit(1);
    }
  }
  void gemv(int i) {
    g.w = w.at(size_t(i % copies) * bytes);
    lathe::cuda::launch_gemv(g, stream);
  }
  // What Matmul::eval_cuda called: out^T (n x m) = W (n x k, read transposed) @ x^T.
  void blas_call(int i) {
    const float one = 1.0f, zero = 0.0f;
    const cudaDataType_t t = blas_type(dt);
    ck(cublasGemmStridedBatchedEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &one,
                                  w.at(size_t(i % copies) * bytes), t, k, 0, x.p, t, k, 0, &zero,
                                  y2.p, t, n, int64_t(m) * n, 1, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT),
       "cublas");
  }
  double difference() {
    gemv(0);
    blas_call(0);
    ck(cudaStreamSynchronize(stream), "sync");
    return relative_difference(y1.p, y2.p, int64_t(m) * n, dt);
  }
  double time_gemv(int lg = 0, bool graph = false) {
    g.threads_per_row_log2 = lg;
    auto f = [&](int i) { gemv(i); };
    const double s = graph ? seconds_per_call_graph(f) : seconds_per_call(f);
    g.threads_per_row_log2 = 0;
    return s;
  }
  double time_blas(bool graph = false) {
    auto f = [&](int i) { blas_call(i); };
    return graph ? seconds_per_call_graph(f) : seconds_per_call(f);
  }
};

// One quantized shape. mode: 4 or 8 (affine, group 64, bfloat16 scales and
// biases) or 0 (mxfp4).
struct Quant {
  int64_t n, k;
  int m, mode;
  size_t code_bytes, param_bytes, bytes;
  int copies;
  DeviceBuffer wq, sc, bi, xb, xf, y1, y2;
  lathe::cuda::QGemvArgs g;

  Quant(int64_t n_, int64_t k_, int m_, int mode_)
      : n(n_),
        k(k_),
        m(m_),
        mode(mode_),
        code_bytes(size_t(n_) * k_ * (mode_ == 0 ? 4 : mode_) / 8),
        param_bytes(mode_ == 0 ? size_t(n_) * (k_ / 32) : size_t(n_) * (k_ / 64) * 2),
        bytes(code_bytes + param_bytes * (mode_ == 0 ? 1 : 2)),
        copies(copies_for(bytes)),
        wq(code_bytes * copies, byte_fill(0, 255)),
        sc(param_bytes * copies, mode_ == 0 ? byte_fill(118, 124) : bf16_fill(0.01f, 0.02f)),
        bi(mode_ == 0 ? 16 : param_bytes * copies, bf16_fill(-0.1f, -0.05f)),
        xb(size_t(m_) * k_ * 2, bf16_fill(-1, 1)),
        xf(size_t(m_) * k_ * 4, f32_fill()),
        y1(size_t(m_) * n_ * 4, byte_fill(0, 0)),
        y2(size_t(m_) * n_ * 4, byte_fill(0, 0)) {
    g.bits = mode == 0 ? 4 : mode;
    g.group_size = mode == 0 ? 32 : 64;
    g.mxfp4 = mode == 0;
    g.scale_dtype = mode == 0 ? lathe::uint8 : lathe::bfloat16;
    g.n = n;
    g.k = k;
    g.m = m;
    g.y_dtype = lathe::float32;
    g.y = y1.p;
    use(0);
    use_x(true);
    if (!lathe::cuda::qgemv_fits(g)) {
      std::fprintf(stderr, "quantized shape does not fit\n");
      std::exit(1);
    }
  }
  void use(int i) {
    const size_t c = size_t(i % copies);
    g.wq = wq.at(c * code_bytes);
    g.scales = sc.at(c * param_bytes);
    g.biases = mode == 0 ? nullptr : bi.at(c * param_bytes);
  }
  // bfloat16 x (a model's activations) or float32 x (what the generic kernel reads).
  void use_x(bool bf16) {
    g.x = bf16 ? xb.p : xf.p;
    g.x_dtype = bf16 ? lathe::bfloat16 : lathe::float32;
  }
  // Largest difference to the generic kernel, both from float32 x.
  double difference() {
    use(0);
    use_x(false);
    g.y = y1.p;
    lathe::cuda::launch_qgemv(g, stream);
    g.y = y2.p;
    lathe::cuda::launch_qmm_generic(g, stream);
    ck(cudaStreamSynchronize(stream), "sync");
    g.y = y1.p;
    use_x(true);
    return relative_difference(y1.p, y2.p, int64_t(m) * n, lathe::float32);
  }
  double time_gemv(int lg = 0, bool graph = false) {
    g.threads_per_row_log2 = lg;
    auto f = [&](int i) {
      use(i);
      lathe::cuda::launch_qgemv(g, stream);
    };
    const double s = graph ? seconds_per_call_graph(f) : seconds_per_call(f);
    g.threads_per_row_log2 = 0;
    return s;
  }
  double time_generic() {
    use_x(false);
    g.y = y2.p;
    const double s = seconds_per_call([&](int i) {
      use(i);
      lathe::cuda::launch_qmm_generic(g, stream);
    });
    g.y = y1.p;
    use_x(true);
    return s;
  }
};

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
  const double copy = copy_bandwidth();
  std::printf("copy bandwidth (1 GiB device-to-device, read + write): %.0f GB/s\n\n", copy);
  auto pct = [&](size_t bytes, double s) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.0f (%.0f%%)", gbps(bytes, s), 100 * gbps(bytes, s) / copy);
    return std::string(buf);
  };

  std::printf("## bfloat16, M = 1: GB/s of weights (%% of the copy bandwidth)\n\n");
  std::printf(
      "Stream: back-to-back launches from the host; graph: the same launches replayed "
      "from a CUDA graph.\n\n");
  std::printf(
      "| model | layer | N x K | MB | GEMV stream | cuBLAS stream | GEMV graph | cuBLAS "
      "graph | cuBLAS / GEMV time (graph) | max rel diff |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  struct Total {
    double bytes = 0, gemv = 0, blas = 0, gemv_graph = 0, blas_graph = 0;
  };
  std::vector<std::pair<std::string, Total>> totals;
  for (const Shape2& s : shapes) {
    Dense d(s.n, s.k, 1, lathe::bfloat16);
    const double diff = d.difference();
    const double gs = d.time_gemv(), bs = d.time_blas();
    const double gg = d.time_gemv(0, true), bg = d.time_blas(true);
    std::printf("| %s | %s | %lldx%lld | %.1f | %s | %s | %s | %s | %.2fx | %.1e |\n", s.model,
                s.layer, (long long)s.n, (long long)s.k, d.bytes / 1e6, pct(d.bytes, gs).c_str(),
                pct(d.bytes, bs).c_str(), pct(d.bytes, gg).c_str(), pct(d.bytes, bg).c_str(),
                bg / gg, diff);
    if (totals.empty() || totals.back().first != s.model) totals.push_back({s.model, {}});
    Total& t = totals.back().second;
    t.bytes += double(d.bytes) * s.per_token;
    t.gemv += gs * s.per_token;
    t.blas += bs * s.per_token;
    t.gemv_graph += gg * s.per_token;
    t.blas_graph += bg * s.per_token;
  }
  auto total_cell = [&](double bytes, double s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f ms (%.0f%%)", s * 1e3, 100 * bytes / s / 1e9 / copy);
    return std::string(buf);
  };
  std::printf(
      "\nPer token (every Linear of the model once, lm_head included): ms and %% of "
      "the copy bandwidth\n\n");
  std::printf("| model | weight GB | GEMV stream | cuBLAS stream | GEMV graph | cuBLAS graph |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (auto& [name, t] : totals) {
    std::printf("| %s | %.2f | %s | %s | %s | %s |\n", name.c_str(), t.bytes / 1e9,
                total_cell(t.bytes, t.gemv).c_str(), total_cell(t.bytes, t.blas).c_str(),
                total_cell(t.bytes, t.gemv_graph).c_str(),
                total_cell(t.bytes, t.blas_graph).c_str());
  }

  std::printf("\n## More rows of x and other dtypes (GB/s of weights, stream)\n\n");
  std::printf("| dtype | N x K | M | GEMV | cuBLAS | cuBLAS / GEMV time | max rel diff |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (auto [n, k] : {std::pair<int64_t, int64_t>{4096, 4096}, {14336, 4096}}) {
    for (lathe::Dtype dt : {lathe::bfloat16, lathe::float16, lathe::float32}) {
      for (int m : {1, 2, 4, 8}) {
        if (dt != lathe::bfloat16 && m != 1) continue;
        Dense d(n, k, m, dt);
        const double diff = d.difference();
        const double gs = d.time_gemv(), bs = d.time_blas();
        std::printf("| %s | %lldx%lld | %d | %s | %s | %.2fx | %.1e |\n", dt.name(), (long long)n,
                    (long long)k, m, pct(d.bytes, gs).c_str(), pct(d.bytes, bs).c_str(), bs / gs,
                    diff);
      }
    }
  }

  std::printf("\n## Quantized, M = 1, bfloat16 x: GB/s of codes + scales + biases\n\n");
  std::printf(
      "4-bit and 8-bit: MLX affine, group 64, bfloat16 scales and biases; mxfp4: E2M1 + "
      "E8M0 per 32. 'generic' is the kernel the op used before (a warp per output, "
      "float32 x). Diff: against the generic kernel.\n\n");
  std::printf(
      "| model | N x K | 4-bit MB | 4-bit stream | 4-bit graph | 4-bit generic | 8-bit "
      "stream | mxfp4 stream | max rel diff 4/8/mx |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  std::vector<std::pair<std::string, Total>> qtotals;
  for (const Shape2& s : shapes) {
    const bool llama = std::string(s.model) == "llama-3.1-8b";
    Quant q4(s.n, s.k, 1, 4);
    const double d4 = q4.difference();
    const double g4 = q4.time_gemv(), g4g = q4.time_gemv(0, true);
    const std::string generic = llama ? pct(q4.bytes, q4.time_generic()) : "—";
    double d8, g8, dm, gm;
    size_t b8, bm;
    {
      Quant q8(s.n, s.k, 1, 8);
      d8 = q8.difference();
      g8 = q8.time_gemv();
      b8 = q8.bytes;
    }
    {
      Quant qm(s.n, s.k, 1, 0);
      dm = qm.difference();
      gm = qm.time_gemv();
      bm = qm.bytes;
    }
    std::printf("| %s | %lldx%lld | %.1f | %s | %s | %s | %s | %s | %.0e / %.0e / %.0e |\n",
                s.model, (long long)s.n, (long long)s.k, q4.bytes / 1e6, pct(q4.bytes, g4).c_str(),
                pct(q4.bytes, g4g).c_str(), generic.c_str(), pct(b8, g8).c_str(),
                pct(bm, gm).c_str(), d4, d8, dm);
    if (qtotals.empty() || qtotals.back().first != s.model) qtotals.push_back({s.model, {}});
    Total& t = qtotals.back().second;
    t.bytes += double(q4.bytes) * s.per_token;
    t.gemv += g4 * s.per_token;
    t.gemv_graph += g4g * s.per_token;
  }
  std::printf(
      "\nPer token, 4-bit: ms (%% of the copy bandwidth)\n\n| model | GB | stream | "
      "graph |\n|---|---|---|---|\n");
  for (auto& [name, t] : qtotals) {
    std::printf("| %s | %.2f | %s | %s |\n", name.c_str(), t.bytes / 1e9,
                total_cell(t.bytes, t.gemv).c_str(), total_cell(t.bytes, t.gemv_graph).c_str());
  }
  std::printf(
      "\n## Quantized 4-bit, more rows of x (stream)\n\n| N x K | M | 4-bit GEMV | "
      "max rel diff |\n|---|---|---|---|\n");
  for (int m : {2, 4, 8}) {
    Quant q(4096, 4096, m, 4);
    const double diff = q.difference();
    std::printf("| 4096x4096 | %d | %s | %.0e |\n", m, pct(q.bytes, q.time_gemv()).c_str(), diff);
  }

  std::printf(
      "\n## Threads per row group (M = 1, stream): GB/s with the launch's choice and "
      "at each fixed width\n\n");
  std::printf("| kernel | N x K | chosen | 32 | 64 | 128 | 256 |\n|---|---|---|---|---|---|---|\n");
  for (auto [n, k] : {std::pair<int64_t, int64_t>{4096, 4096},
                      {1024, 4096},
                      {14336, 4096},
                      {4096, 14336},
                      {1152, 1152},
                      {256, 1152},
                      {6912, 1152},
                      {1152, 6912},
                      {262144, 1152}}) {
    {
      Dense d(n, k, 1, lathe::bfloat16);
      std::printf("| bf16 | %lldx%lld |", (long long)n, (long long)k);
      for (int lg : {0, 5, 6, 7, 8}) std::printf(" %.0f |", gbps(d.bytes, d.time_gemv(lg)));
      std::printf("\n");
    }
    {
      Quant q(n, k, 1, 4);
      std::printf("| 4-bit | %lldx%lld |", (long long)n, (long long)k);
      for (int lg : {0, 5, 6, 7, 8}) std::printf(" %.0f |", gbps(q.bytes, q.time_gemv(lg)));
      std::printf("\n");
    }
  }
  std::printf("\ncopy bandwidth again at the end: %.0f GB/s\n", copy_bandwidth());
  cublasDestroy(blas);
  return 0;
}

#else

int main() {
  std::puts("bench_gemv_cuda: built without CUDA (use the cuda preset)");
  return 0;
}

#endif
