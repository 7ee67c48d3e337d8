// Quantized weights in the formats of mlx-community checkpoints: MLX affine
// (uint32 codes + scales + biases) and mxfp4 (E2M1 codes + E8M0 scales).
//
// Affine packing. A matrix w [..., N, K] is quantized along K in groups of
// group_size (32, 64 or 128) consecutive elements; bits is 2, 3, 4, 5, 6 or 8.
//   wq      uint32 [..., N, K * bits / 32]
//   scales  [..., N, K / group_size], dtype of w (float16, bfloat16 or float32)
//   biases  same shape and dtype as scales
// Each row of wq, read as little-endian bytes, is a bit stream: code j of the
// row occupies bits [j*bits, (j+1)*bits). For bits=4 that is 8 codes per uint32,
// code j at bits [4*(j%8), 4*(j%8)+4) of word j/8; for bits=8, byte j%4 of word
// j/4; for bits=3, 8 codes in every 3 bytes. Element j of group g dequantizes to
//   w = scales[g] * q + biases[g]            (computed in float32)
// quantize() follows MLX: per group, with min/max in float32 and n = 2^bits - 1,
//   s = max((max - min) / n, 1e-7); the endpoint of larger magnitude is the
//   "edge": edge = min and s > 0 if |min| > |max|, else edge = max and s = -s;
//   q0 = rint(edge / s); if q0 != 0 then s = edge / q0 and bias = edge (so the
//   edge and 0 are exact), else bias = 0;
//   q = clamp(rint((w - bias) / s), 0, n), rint rounding half to even.
// So scales may be negative, and the far endpoint may be clamped (its error can
// exceed |s|/2 when s was shrunk to make 0 exact); every other element is within
// |s|/2 of w (before scales and biases are rounded to w's dtype).
//
// mxfp4 (OCP microscaling, gpt-oss and MLX "mxfp4" mode): group_size 32, bits 4.
//   wq      uint32 [..., N, K / 8], or uint8 [..., N, K / 2], or the gpt-oss
//           "*_blocks" layout uint8 [..., N, K / 32, 16]; two codes per byte,
//           low nibble first (the same bit stream as above)
//   scales  uint8 [..., N, K / 32], E8M0: the scale is 2^(e - 127) (e = 255 is NaN)
// A code c is E2M1: sign bit 3, magnitude {0, 0.5, 1, 1.5, 2, 3, 4, 6}[c & 7];
// w = scale * value.
#pragma once

#include <optional>
#include <string>

#include "lathe/core/array.h"

namespace lathe {

struct QuantizedWeight {
  Array wq, scales, biases;
};

// Affine quantization of a floating matrix (or stack) w [..., N, K] along K.
// group_size defaults to 64 and bits to 4.
QuantizedWeight quantize(const Array& w, std::optional<int> group_size = std::nullopt,
                         std::optional<int> bits = std::nullopt);

// The float matrix the codes stand for, [..., N, K]. mode is "affine" (needs
// biases; the result has scales' dtype unless dtype is given) or "mxfp4" (no
// biases; bfloat16 unless dtype is given). group_size/bits default per mode
// (affine 64/4, mxfp4 32/4).
Array dequantize(const Array& wq, const Array& scales, const std::optional<Array>& biases,
                 std::optional<int> group_size = std::nullopt,
                 std::optional<int> bits = std::nullopt, const std::string& mode = "affine",
                 std::optional<Dtype> dtype = std::nullopt);

// x [..., M, K] @ dequantize(w).T (transpose, w stored [..., N, K]) or
// x @ dequantize(w) (w stored [..., K, N]), without materializing the float
// matrix. Batch dims of x and w broadcast. The result has x's dtype (promoted
// with the scales' for affine).
Array quantized_matmul(const Array& x, const Array& wq, const Array& scales,
                       const std::optional<Array>& biases, bool transpose = true,
                       std::optional<int> group_size = std::nullopt,
                       std::optional<int> bits = std::nullopt, const std::string& mode = "affine");

// gather_mm with a quantized b: out[i] = x[lhs[i]] @ dequantize(w[rhs[i]]).T
// (see gather_mm for the index semantics). For mixture-of-experts layers.
Array gather_qmm(const Array& x, const Array& wq, const Array& scales,
                 const std::optional<Array>& biases,
                 const std::optional<Array>& lhs_indices = std::nullopt,
                 const std::optional<Array>& rhs_indices = std::nullopt, bool transpose = true,
                 std::optional<int> group_size = std::nullopt,
                 std::optional<int> bits = std::nullopt, const std::string& mode = "affine");

}  // namespace lathe
