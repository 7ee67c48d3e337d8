// Kernels on one quantized matrix (the formats are documented in
// lathe/ops/quantized.h): code unpacking, dequantization, the fused batch-1
// product and the tiled dequantize-then-sgemm product.
#pragma once

#include <cstdint>

#include "lathe/core/dtype.h"

namespace lathe::cpu {

struct QFormat {
  int group_size;
  int bits;
  bool mxfp4;
};

// One stored matrix of `rows` rows, each standing for `cols` floats.
struct QMatrix {
  const uint8_t* codes;  // row r starts at codes + r * row_bytes
  int64_t row_bytes;
  const void* scales;  // row r's groups start at element r * groups
  const void* biases;  // nullptr for mxfp4
  Dtype scale_dtype;   // uint8 (E8M0) for mxfp4
  int64_t rows, cols, groups;
};

// Dequantizes rows [r0, r1) into dst, row-major with cols floats per row.
void dequantize_rows(const QFormat& f, const QMatrix& w, int64_t r0, int64_t r1, float* dst);

// y [m, n] (row-major, float32) = x [m, k] @ W^T when transpose (W is [n, k]),
// x @ W otherwise (W is [k, n]).
void qmatmul(const QFormat& f, const QMatrix& w, const float* x, int64_t m, bool transpose,
             float* y);

// MLX affine parameters of one group of float32 values (see ops/quantized.h).
void affine_params(const float* w, int group_size, int bits, float& scale, float& bias);

// The code of value v under (scale, bias): clamp(rint((v - bias) / scale), 0, 2^bits - 1).
uint32_t affine_code(float v, float scale, float bias, int bits);

// ORs code c into a zeroed little-endian bit stream at position j.
void put_code(uint8_t* row, int64_t j, int bits, uint32_t c);

}  // namespace lathe::cpu
