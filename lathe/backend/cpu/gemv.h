// Matrix-vector products that read 16-bit (or float32) weights once, converting
// to float32 in registers: the batch-1 decode path of matmul, where converting
// the whole weight matrix first would read and write it twice.
#pragma once

#include <cstdint>

#include "lathe/core/dtype.h"

namespace lathe::cpu {

// y[i] = alpha * dot(W[i, 0:k], x) + beta * y[i] for i < n; row i of W starts at
// element i * ldw. W is float16, bfloat16 or float32; beta == 0 ignores y's contents.
void gemv_rows(Dtype wdtype, const void* w, int64_t ldw, int64_t n, int64_t k, const float* x,
               float* y, float alpha, float beta);

// y[j] = alpha * sum_i x[i] * W[i, j] + beta * y[j] for j < n, i < k; row i of W
// starts at element i * ldw.
void gemv_cols(Dtype wdtype, const void* w, int64_t ldw, int64_t k, int64_t n, const float* x,
               float* y, float alpha, float beta);

// Converts n 16-bit (or float32) values to float32.
void to_float(Dtype dtype, const void* src, float* dst, int64_t n);

}  // namespace lathe::cpu
