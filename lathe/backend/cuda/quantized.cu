// CUDA kernels of dequantize, quantized_matmul and gather_qmm for MLX affine
// codes (any bits that divide a byte stream; 4 and 8 are the common ones) and
// mxfp4. Products dequantize on the fly: up to 8 rows of x against one W^T go
// to the GEMV of decoding (qgemv.cu); otherwise a warp per output for W^T, a
// thread per output for W.
#include <string>
#include <vector>

#include "lathe/backend/cuda/gemv.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/quantized.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

// Products of at least this many rows dequantize the weight once and use cuBLAS.
constexpr int64_t kDequantizedGemmRows = 32;

// Makes n (of shape [rows, cols], or [cols, rows] when transposed) a view of the row-major
// [rows, cols] matrix at `offset` bytes into `buffer` on the GPU.
void view_matrix(Node& n, std::shared_ptr<Buffer> buffer, size_t offset, int64_t rows,
                 int64_t cols, bool transposed) {
  n.device = Device::cuda;
  n.buffer = std::move(buffer);
  n.offset = offset;
  n.strides = transposed ? Strides{1, cols} : Strides{cols, 1};
  n.data_size = static_cast<size_t>(rows * cols);
  n.contiguous = !transposed;
}

// One stored matrix stack, row-major: row r of matrix b at codes + (b * rows + r) * row_bytes.
struct QDev {
  const uint8_t* codes;
  const void* scales;
  const void* biases;
  Dtype::Val scale_dtype;
  int64_t rows, cols, groups, row_bytes;
  int group_size, bits;
  bool mxfp4;
};

__device__ __forceinline__ float read_param(const void* p, Dtype::Val d, int64_t i) {
  switch (d) {
    case Dtype::Val::bfloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case Dtype::Val::float16: return __half2float(static_cast<const __half*>(p)[i]);
    case Dtype::Val::uint8: {
      const uint8_t e = static_cast<const uint8_t*>(p)[i];
      return e == 255 ? __int_as_float(0x7fc00000) : ldexpf(1.0f, int(e) - 127);
    }
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ float code_value(const uint8_t* row, int64_t j, int bits, bool mxfp4) {
  const int64_t bit = j * bits;
  const uint8_t* p = row + (bit >> 3);
  const int sh = static_cast<int>(bit & 7);
  uint32_t v = p[0];
  if (sh + bits > 8) v |= uint32_t(p[1]) << 8;
  const uint32_t c = (v >> sh) & ((1u << bits) - 1);
  if (!mxfp4) return static_cast<float>(c);
  const float mags[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  return (c & 8) ? -mags[c & 7] : mags[c & 7];
}

// Element (r, j) of matrix b, as the CPU's s * q + b (no fused multiply-add).
__device__ __forceinline__ float weight(const QDev& w, int64_t b, int64_t r, int64_t j) {
  const int64_t row = b * w.rows + r;
  const float q = code_value(w.codes + row * w.row_bytes, j, w.bits, w.mxfp4);
  const int64_t pi = row * w.groups + j / w.group_size;
  const float s = read_param(w.scales, w.scale_dtype, pi);
  const float bias = w.biases ? read_param(w.biases, w.scale_dtype, pi) : 0.0f;
  return __fadd_rn(__fmul_rn(s, q), bias);
}

__device__ __forceinline__ void store_float(void* out, int64_t i, Dtype::Val d, float v) {
  switch (d) {
    case Dtype::Val::bfloat16: static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(v); break;
    case Dtype::Val::float16: static_cast<__half*>(out)[i] = __float2half_rn(v); break;
    case Dtype::Val::float64: static_cast<double*>(out)[i] = v; break;
    default: static_cast<float*>(out)[i] = v; break;
  }
}

__global__ void dequantize_kernel(QDev w, void* out, Dtype::Val od, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    store_float(out, e, od, weight(w, 0, e / w.cols, e % w.cols));
  }
}

// MLX affine parameters of one group (the CPU's affine_params, in float).
__device__ void affine_params(const float* w, int gs, int bits, float& scale, float& bias) {
  float lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < gs; ++i) {
    lo = fminf(lo, w[i]);
    hi = fmaxf(hi, w[i]);
  }
  const float n_bins = float((1 << bits) - 1);
  const bool min_is_edge = fabsf(lo) > fabsf(hi);
  float s = fmaxf(__fdiv_rn(__fsub_rn(hi, lo), n_bins), 1e-7f);
  s = min_is_edge ? s : -s;
  const float edge = min_is_edge ? lo : hi;
  const float q0 = rintf(__fdiv_rn(edge, s));
  bias = 0.0f;
  if (q0 != 0.0f) {
    s = __fdiv_rn(edge, q0);
    bias = edge;
  }
  scale = s;
}

// A thread per (row, group): its codes fill whole bytes (group_size * bits is a multiple of 8).
__global__ void quantize_kernel(const float* w, int64_t groups, int gs, int bits, int part,
                                void* out, Dtype::Val od, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const float* src = w + e * gs;
    float scale, bias;
    affine_params(src, gs, bits, scale, bias);
    if (part == 1) {
      store_float(out, e, od, scale);
    } else if (part == 2) {
      store_float(out, e, od, bias);
    } else {
      uint8_t* dst = static_cast<uint8_t*>(out) + e * gs * bits / 8;
      const float n_bins = float((1 << bits) - 1);
      uint32_t acc = 0;
      int have = 0;
      for (int i = 0; i < gs; ++i) {
        const float q = rintf(__fdiv_rn(__fsub_rn(src[i], bias), scale));
        const uint32_t c = q >= 0.0f ? static_cast<uint32_t>(fminf(q, n_bins)) : 0u;
        acc |= c << have;
        have += bits;
        while (have >= 8) {
          *dst++ = static_cast<uint8_t>(acc & 0xff);
          acc >>= 8;
          have -= 8;
        }
      }
    }
  }
}

__global__ void to_float_kernel(const void* x, Dtype::Val d, float* y, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    y[e] = static_cast<float>(load_double(x, e, d));
  }
}

// out[p, i, j] = sum_k x[xi[p], i, k] * W[wi[p]][j, k]: a warp per (p, j), all i.
__global__ void qmm_t_kernel(QDev w, const float* x, const int64_t* xi, const int64_t* wi,
                             void* out, Dtype::Val od, int64_t m) {
  const int lane = threadIdx.x & 31;
  const int64_t j = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  const int64_t p = blockIdx.y;
  const int64_t n = w.rows, k = w.cols;
  if (j >= n) return;
  const int64_t b = wi[p];
  const float* xp = x + xi[p] * m * k;
  for (int64_t i = 0; i < m; ++i) {
    float acc = 0.0f;
    for (int64_t c = lane; c < k; c += 32) acc += xp[i * k + c] * weight(w, b, j, c);
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) store_float(out, (p * m + i) * n + j, od, acc);
  }
}

// out[p, i, j] = sum_k x[xi[p], i, k] * W[wi[p]][k, j]: a thread per (p, i, j).
__global__ void qmm_kernel(QDev w, const float* x, const int64_t* xi, const int64_t* wi, void* out,
                           Dtype::Val od, int64_t m, int64_t total) {
  const int64_t k = w.rows, n = w.cols;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % n, i = (e / n) % m, p = e / (n * m);
    const float* xr = x + (xi[p] * m + i) * k;
    float acc = 0.0f;
    for (int64_t c = 0; c < k; ++c) acc += xr[c] * weight(w, wi[p], c, j);
    store_float(out, e, od, acc);
  }
}

QDev qdev_of(const QuantSpec& spec, const Node& wq, const Node& scales, const Node* biases,
             int64_t& count, Shape& batch) {
  const size_t nd = wq.shape.size();
  batch.assign(wq.shape.begin(), wq.shape.end() - 2);
  count = static_cast<int64_t>(shape_size(batch));
  QDev w{};
  w.codes = static_cast<const uint8_t*>(wq.raw());
  w.scales = scales.raw();
  w.biases = biases ? biases->raw() : nullptr;
  w.scale_dtype = scales.dtype.val;
  w.rows = wq.shape[nd - 2];
  w.row_bytes = wq.shape[nd - 1] * int64_t(wq.dtype.size());
  w.cols = w.row_bytes * 8 / spec.bits;
  w.groups = w.cols / spec.group_size;
  w.group_size = spec.group_size;
  w.bits = spec.bits;
  w.mxfp4 = spec.mode == QuantMode::mxfp4;
  return w;
}

// For each index of `batch` (row-major), the flat index into `own` broadcast to it.
std::vector<int64_t> broadcast_index(const Shape& own, const Shape& batch) {
  std::vector<int64_t> idx(shape_size(batch), 0);
  const Strides rs = row_strides(own);
  for (size_t e = 0; e < idx.size(); ++e) {
    int64_t rem = static_cast<int64_t>(e), flat = 0;
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      const int64_t c = rem % batch[d];
      rem /= batch[d];
      const int od = d - static_cast<int>(batch.size() - own.size());
      if (od >= 0 && own[od] != 1) flat += c * rs[od];
    }
    idx[e] = flat;
  }
  return idx;
}

// Index values (uint32, broadcast to batch) read back and checked against count.
std::vector<int64_t> index_values(const Node& idx, const Shape& batch, int64_t count,
                                  const char* which) {
  std::vector<int64_t> out(shape_size(batch));
  if (out.empty()) return out;
  std::vector<uint32_t> host(idx.size());
  std::shared_ptr<Buffer> dense;
  const void* src = idx.raw();
  if (!idx.contiguous) {
    dense = scratch(idx.nbytes());
    copy_to_contiguous(idx, dense->ptr());
    src = dense->ptr();
  }
  cudaStream_t s = current_stream();
  check(cudaMemcpyAsync(host.data(), src, idx.nbytes(), cudaMemcpyDeviceToHost, s), "gather_qmm");
  check(cudaStreamSynchronize(s), "gather_qmm");
  const std::vector<int64_t> at = broadcast_index(idx.shape, batch);
  for (size_t e = 0; e < out.size(); ++e) {
    const uint32_t j = host[at[e]];
    if (j >= count) {
      throw Error(std::string("[gather_qmm] ") + which + " value " + std::to_string(j) +
                  " is out of range for " + std::to_string(count) + " matrices");
    }
    out[e] = j;
  }
  return out;
}

std::shared_ptr<Buffer> upload(const std::vector<int64_t>& v, const char* op) {
  auto b = scratch(std::max<size_t>(1, v.size()) * sizeof(int64_t));
  check(cudaMemcpyAsync(b->ptr(), v.data(), v.size() * sizeof(int64_t), cudaMemcpyHostToDevice,
                        current_stream()),
        op);
  return b;
}

// Runs out[p] = x[x_idx[p]] @ W[w_idx[p]](.T).
void run_qmm(const char* op, const QDev& w, bool transpose, const Node& x,
             const std::vector<int64_t>& x_idx, const std::vector<int64_t>& w_idx, Node& out) {
  const size_t nd = out.shape.size();
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1];
  out.allocate();
  if (out.size() == 0) return;
  cudaStream_t s = current_stream();
  std::shared_ptr<Buffer> dense;
  const void* src = x.raw();
  if (!x.contiguous) {
    dense = scratch(x.nbytes());
    copy_to_contiguous(x, dense->ptr());
    src = dense->ptr();
  }
  const int64_t xn = static_cast<int64_t>(x.size());
  auto xf = scratch(std::max<int64_t>(1, xn) * sizeof(float));
  float* xp = static_cast<float*>(xf->ptr());
  if (xn > 0) to_float_kernel<<<grid_for(xn), 256, 0, s>>>(src, x.dtype.val, xp, xn);
  auto xi = upload(x_idx, op), wi = upload(w_idx, op);
  const int64_t products = static_cast<int64_t>(x_idx.size());
  if (transpose) {
    const dim3 grid(static_cast<unsigned>((n + 7) / 8), static_cast<unsigned>(products));
    qmm_t_kernel<<<grid, 256, 0, s>>>(w, xp, static_cast<const int64_t*>(xi->ptr()),
                                      static_cast<const int64_t*>(wi->ptr()), out.raw(),
                                      out.dtype.val, m);
  } else {
    const int64_t total = products * m * n;
    qmm_kernel<<<grid_for(total), 256, 0, s>>>(w, xp, static_cast<const int64_t*>(xi->ptr()),
                                               static_cast<const int64_t*>(wi->ptr()), out.raw(),
                                               out.dtype.val, m, total);
  }
  check(cudaGetLastError(), op);
}

// x [..., M, K] with at most kGemvMaxRows rows against one matrix W^T: the GEMV.
bool try_gemv(const QuantSpec& spec, bool transpose, const NodeList& in, Node& out) {
  const Node& x = *in[0];
  const Node& wq = *in[1];
  const Node& scales = *in[2];
  const Node* biases = in.size() > 3 ? in[3] : nullptr;
  if (!transpose || out.size() == 0 || x.size() == 0) return false;
  for (size_t d = 0; d + 2 < wq.shape.size(); ++d) {
    if (wq.shape[d] != 1) return false;
  }
  QGemvArgs a;
  a.bits = spec.bits;
  a.group_size = spec.group_size;
  a.mxfp4 = spec.mode == QuantMode::mxfp4;
  a.wq = wq.raw();
  a.scales = scales.raw();
  a.biases = biases ? biases->raw() : nullptr;
  a.scale_dtype = scales.dtype;
  a.k = x.shape.back();
  a.n = out.shape.back();
  const int64_t rows = static_cast<int64_t>(x.size()) / a.k;
  if (rows > kGemvMaxRows) return false;
  a.m = static_cast<int>(rows);
  a.x_dtype = x.dtype;
  a.y_dtype = out.dtype;
  if (!qgemv_fits(a)) return false;
  std::shared_ptr<Buffer> dense;
  a.x = x.raw();
  if (!x.contiguous) {
    dense = scratch(x.nbytes());
    copy_to_contiguous(x, dense->ptr());
    a.x = dense->ptr();
  }
  out.allocate();
  a.y = out.raw();
  launch_qgemv(a, current_stream());
  return true;
}

}  // namespace

// The general W^T kernel on raw arguments (x float32), to benchmark the GEMV against.
void launch_qmm_generic(const QGemvArgs& g, cudaStream_t s) {
  if (g.x_dtype != float32) throw Error("[quantized_matmul] the generic kernel takes float32 x");
  static int64_t* zero = [] {
    int64_t* p = nullptr;
    check(cudaMalloc(&p, sizeof(int64_t)), "quantized_matmul");
    check(cudaMemset(p, 0, sizeof(int64_t)), "quantized_matmul");
    return p;
  }();
  QDev w{};
  w.codes = static_cast<const uint8_t*>(g.wq);
  w.scales = g.scales;
  w.biases = g.biases;
  w.scale_dtype = g.scale_dtype.val;
  w.rows = g.n;
  w.cols = g.k;
  w.row_bytes = g.k * g.bits / 8;
  w.groups = g.k / g.group_size;
  w.group_size = g.group_size;
  w.bits = g.bits;
  w.mxfp4 = g.mxfp4;
  const dim3 grid(static_cast<unsigned>((g.n + 7) / 8), 1);
  qmm_t_kernel<<<grid, 256, 0, s>>>(w, static_cast<const float*>(g.x), zero, zero, g.y,
                                    g.y_dtype.val, g.m);
  check(cudaGetLastError(), "quantized_matmul");
}

}  // namespace cuda

void AffineQuantize::eval_cuda(const NodeList& in, Node& out) {
  const Node& w = *in[0];
  const int64_t k = w.shape.back();
  const int64_t groups = k / spec_.group_size;
  const int64_t total = k ? static_cast<int64_t>(w.size()) / k * groups : 0;
  out.allocate();
  if (total == 0) return;
  cudaStream_t s = cuda::current_stream();
  std::shared_ptr<Buffer> dense;
  const void* src = w.raw();
  if (!w.contiguous) {
    dense = cuda::scratch(w.nbytes());
    cuda::copy_to_contiguous(w, dense->ptr());
    src = dense->ptr();
  }
  const int64_t n = static_cast<int64_t>(w.size());
  auto wf = cuda::scratch(n * sizeof(float));
  float* wp = static_cast<float*>(wf->ptr());
  cuda::to_float_kernel<<<cuda::grid_for(n), 256, 0, s>>>(src, w.dtype.val, wp, n);
  const int part = part_ == Part::packed ? 0 : part_ == Part::scales ? 1 : 2;
  cuda::quantize_kernel<<<cuda::grid_for(total, 128), 128, 0, s>>>(
      wp, groups, spec_.group_size, spec_.bits, part, out.raw(), out.dtype.val, total);
  cuda::check(cudaGetLastError(), name());
}

void Dequantize::eval_cuda(const NodeList& in, Node& out) {
  int64_t count = 0;
  Shape batch;
  cuda::QDev w =
      cuda::qdev_of(spec_, *in[0], *in[1], in.size() > 2 ? in[2] : nullptr, count, batch);
  out.allocate();
  // All matrices of the stack are consecutive: one tall matrix.
  w.rows *= count;
  const int64_t total = w.rows * w.cols;
  if (total == 0) return;
  cuda::dequantize_kernel<<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
      w, out.raw(), out.dtype.val, total);
  cuda::check(cudaGetLastError(), name());
}

void QuantizedMatmul::eval_cuda(const NodeList& in, Node& out) {
  if (cuda::try_gemv(spec_, transpose_, in, out)) return;
  const Node& x = *in[0];
  int64_t count = 0;
  Shape wb;
  cuda::QDev w = cuda::qdev_of(spec_, *in[1], *in[2], in.size() > 3 ? in[3] : nullptr, count, wb);
  const int64_t k = x.shape.back();
  const int64_t rows = k > 0 ? static_cast<int64_t>(x.size()) / k : 0;
  const bool blas_dtype = x.dtype == bfloat16 || x.dtype == float16 || x.dtype == float32;
  if (rows >= cuda::kDequantizedGemmRows && count == 1 && blas_dtype && out.dtype == x.dtype &&
      x.contiguous) {
    // Many rows (prefill): the weight dequantized once into x's dtype, then one cuBLAS GEMM,
    // whose tensor cores beat dequantizing on the fly for every row block.
    const int64_t total = w.rows * w.cols;
    auto dense = cuda::scratch(static_cast<size_t>(total) * x.dtype.size());
    cuda::dequantize_kernel<<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
        w, dense->ptr(), x.dtype.val, total);
    cuda::check(cudaGetLastError(), name());
    // W^T (transpose) is the stored [rows, cols] matrix read column-major.
    Node wt(transpose_ ? Shape{w.cols, w.rows} : Shape{w.rows, w.cols}, x.dtype, nullptr, {});
    cuda::view_matrix(wt, dense, 0, w.rows, w.cols, transpose_);
    Node x2(Shape{rows, k}, x.dtype, nullptr, {});
    cuda::view_matrix(x2, x.buffer, x.offset, rows, k, false);
    out.allocate();
    Node y2(Shape{rows, out.shape.back()}, out.dtype, nullptr, {});
    cuda::view_matrix(y2, out.buffer, out.offset, rows, out.shape.back(), false);
    cuda::blas_matmul(name(), x2, wt, y2);
    return;
  }
  Shape batch(out.shape.begin(), out.shape.end() - 2);
  Shape xb(x.shape.begin(), x.shape.end() - 2);
  cuda::run_qmm(name(), w, transpose_, x, cuda::broadcast_index(xb, batch),
                cuda::broadcast_index(wb, batch), out);
}

void GatherQMM::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  const bool affine = spec_.mode == QuantMode::affine;
  int64_t count = 0;
  Shape wb;
  cuda::QDev w = cuda::qdev_of(spec_, *in[1], *in[2], affine ? in[3] : nullptr, count, wb);
  const Node& li = *in[affine ? 4 : 3];
  const Node& ri = *in[affine ? 5 : 4];
  Shape batch(out.shape.begin(), out.shape.end() - 2);
  Shape xb(x.shape.begin(), x.shape.end() - 2);
  cuda::run_qmm(name(), w, transpose_, x,
                cuda::index_values(li, batch, int64_t(shape_size(xb)), "lhs_indices"),
                cuda::index_values(ri, batch, count, "rhs_indices"), out);
}

}  // namespace lathe
