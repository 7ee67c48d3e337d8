// Matrix products (M > 1) whose right operand stays 16-bit in memory: the weight is
// widened to float32 one cache-sized panel at a time and each panel goes to sgemm.
#pragma once

#include <cstdint>

#include "lathe/core/dtype.h"

namespace lathe::cpu {

// C[m, n] (row stride ldc) = alpha * op(A) @ op(B) + beta * C, A float32 [m, k]
// (a_trans: stored column-major with leading dimension lda), B of dtype bdtype
// (float16 or bfloat16) [k, n] row-major with leading dimension ldb, or, with b_trans,
// stored as [n, k] rows (the usual linear-layer weight). beta == 0 ignores C's contents.
void gemm_16bit_b(bool a_trans, const float* a, int64_t lda, Dtype bdtype, const void* b,
                  bool b_trans, int64_t ldb, int64_t m, int64_t n, int64_t k, float alpha,
                  float beta, float* c, int64_t ldc);

}  // namespace lathe::cpu
