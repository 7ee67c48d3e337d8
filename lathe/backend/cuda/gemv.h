// Batch-1 decode products on the GPU: y[m, n] = x[m, k] @ W[n, k]^T for up to
// kGemvMaxRows rows of x, reading every weight once with 16-byte loads. Dense
// weights (float32, float16, bfloat16) in gemv.cu; MLX affine 4/8-bit and mxfp4
// codes, dequantized in registers, in qgemv.cu. Plain C++ so that the bench
// and the .cpp files of the backend can call them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "lathe/core/array.h"

namespace lathe::cuda {

inline constexpr int kGemvMaxRows = 8;

// y[i, j] = alpha * sum_t x[i][t] * w[j * ldw + t] + beta * c, all of one dtype, where c
// is bias[j] when bias is set and y[i, j] otherwise (read only when beta != 0).
struct GemvArgs {
  Dtype dtype = float32;  // float32, float16 or bfloat16
  const void* w = nullptr;
  int64_t n = 0, k = 0, ldw = 0;  // ldw: elements between rows of w
  int m = 0;
  const void* x[kGemvMaxRows] = {};  // row i: k contiguous elements
  void* y = nullptr;
  int64_t ldy = 0;  // elements between rows of y (one row: n contiguous elements)
  float alpha = 1.0f, beta = 0.0f;
  const void* bias = nullptr;    // n elements
  int threads_per_row_log2 = 0;  // 5..8 (a warp .. a block); 0 lets the launch choose
};

// Whether the kernel takes these arguments: dtype, 1 <= m <= kGemvMaxRows, k a
// whole number of 16-byte vectors, w's rows and every x row 16-byte aligned.
bool gemv_fits(const GemvArgs& a);
void launch_gemv(const GemvArgs& a, cudaStream_t s);

// y[i, j] = sum_t x[i, t] * dequantize(W)[j, t] for W stored as n rows of packed
// codes (row_bytes = k * bits / 8) with per-group scales[, biases] [n, k / group_size].
struct QGemvArgs {
  int bits = 4, group_size = 64;
  bool mxfp4 = false;  // E2M1 codes, uint8 E8M0 scales, no biases
  const void* wq = nullptr;
  const void* scales = nullptr;
  const void* biases = nullptr;
  Dtype scale_dtype = bfloat16;
  int64_t n = 0, k = 0;
  int m = 0;
  const void* x = nullptr;  // [m, k] row-major
  Dtype x_dtype = float32;
  void* y = nullptr;  // [m, n] row-major
  Dtype y_dtype = float32;
  int threads_per_row_log2 = 0;  // 5..8 (a warp .. a block); 0 lets the launch choose
};

// Whether the kernel takes these arguments: affine 4 or 8 bits or mxfp4, any
// group size of the formats, 1 <= m <= kGemvMaxRows, wq 16-byte aligned.
bool qgemv_fits(const QGemvArgs& a);
void launch_qgemv(const QGemvArgs& a, cudaStream_t s);
// The general quantized product (a warp per output), kept to benchmark against.
void launch_qmm_generic(const QGemvArgs& a, cudaStream_t s);

// out = a @ b through cuBLAS (matmul.cpp), out allocated by the caller: for products whose
// operand another kernel made (a quantized weight dequantized for a prefill GEMM).
void blas_matmul(const char* name, const detail::Node& a, const detail::Node& b,
                 detail::Node& out);

}  // namespace lathe::cuda
