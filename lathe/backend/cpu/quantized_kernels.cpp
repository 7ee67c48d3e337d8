// Quantized matrix kernels. The batch-1 product (decode) unpacks codes in
// registers and applies each group's scale to a vector partial sum, so a row
// costs one pass over its packed bytes; larger M dequantizes tiles of W to
// float32 and hands them to sgemm.
#include "lathe/backend/cpu/quantized_kernels.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "lathe/backend/cpu/parallel.h"
#include "lathe/core/half.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LATHE_QMM_AVX2 1
#endif

namespace lathe::cpu {

namespace {

// E2M1 magnitudes; bit 3 of a code is the sign.
constexpr float kFp4[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

inline float fp4_value(uint32_t c) { return (c & 8) ? -kFp4[c & 7] : kFp4[c & 7]; }

inline float e8m0(uint8_t e) {
  return e == 255 ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, int(e) - 127);
}

inline float read_param(const void* p, Dtype d, int64_t i) {
  if (d == bfloat16) return static_cast<const bfloat16_t*>(p)[i];
  if (d == float16) return static_cast<const float16_t*>(p)[i];
  if (d == uint8) return e8m0(static_cast<const uint8_t*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

inline uint32_t get_code(const uint8_t* row, int64_t j, int bits) {
  int64_t bit = j * bits;
  const uint8_t* p = row + (bit >> 3);
  int sh = static_cast<int>(bit & 7);
  uint32_t v = p[0];
  if (sh + bits > 8) v |= uint32_t(p[1]) << 8;
  return (v >> sh) & ((1u << bits) - 1);
}

// Codes of group g of a row as floats (code values, or E2M1 values for mxfp4).
void unpack_group(const QFormat& f, const uint8_t* row, int64_t g, float* out) {
  const int64_t j0 = g * f.group_size;
  if (f.bits == 4) {
    const uint8_t* p = row + j0 / 2;
    for (int i = 0; i < f.group_size / 2; ++i) {
      uint32_t lo = p[i] & 15, hi = p[i] >> 4;
      out[2 * i] = f.mxfp4 ? fp4_value(lo) : float(lo);
      out[2 * i + 1] = f.mxfp4 ? fp4_value(hi) : float(hi);
    }
  } else if (f.bits == 8) {
    for (int i = 0; i < f.group_size; ++i) out[i] = float(row[j0 + i]);
  } else {
    for (int i = 0; i < f.group_size; ++i) out[i] = float(get_code(row, j0 + i, f.bits));
  }
}

#ifdef LATHE_QMM_AVX2
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Eight consecutive codes starting at byte p (bits 4 or 8) as floats.
template <int BITS, bool MX>
inline __m256 load_codes(const uint8_t* p) {
  if constexpr (BITS == 4) {
    uint32_t word;
    std::memcpy(&word, p, 4);
    __m256i v = _mm256_srlv_epi32(_mm256_set1_epi32(int(word)),
                                  _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    v = _mm256_and_si256(v, _mm256_set1_epi32(15));
    if constexpr (MX) {
      const __m256 lut = _mm256_loadu_ps(kFp4);
      __m256 mag = _mm256_permutevar8x32_ps(lut, v);
      __m256i sign = _mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(8)), 28);
      return _mm256_xor_ps(mag, _mm256_castsi256_ps(sign));
    } else {
      return _mm256_cvtepi32_ps(v);
    }
  } else {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
  }
}

// dot(row n of W, x) for 4- or 8-bit codes; xsum[g] is the sum of x over group g.
template <int BITS, bool MX>
float qdot_fast(const QFormat& f, const QMatrix& w, int64_t n, const float* x, const float* xsum) {
  const uint8_t* row = w.codes + n * w.row_bytes;
  const int64_t base = n * w.groups;
  __m256 acc = _mm256_setzero_ps();
  float bias_part = 0.0f;
  const int gs = f.group_size;
  for (int64_t g = 0; g < w.groups; ++g) {
    const float* xg = x + g * gs;
    const uint8_t* p = row + g * gs * BITS / 8;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    for (int j = 0; j < gs; j += 16) {
      a0 = _mm256_fmadd_ps(load_codes<BITS, MX>(p + j * BITS / 8), _mm256_loadu_ps(xg + j), a0);
      a1 = _mm256_fmadd_ps(load_codes<BITS, MX>(p + (j + 8) * BITS / 8),
                           _mm256_loadu_ps(xg + j + 8), a1);
    }
    float s = read_param(w.scales, w.scale_dtype, base + g);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(s), _mm256_add_ps(a0, a1), acc);
    if (!MX) bias_part += read_param(w.biases, w.scale_dtype, base + g) * xsum[g];
  }
  return hsum(acc) + bias_part;
}
#endif

float qdot_generic(const QFormat& f, const QMatrix& w, int64_t n, const float* x,
                   const float* xsum) {
  const uint8_t* row = w.codes + n * w.row_bytes;
  float q[128] = {};  // group_size <= 128
  float total = 0.0f;
  for (int64_t g = 0; g < w.groups; ++g) {
    unpack_group(f, row, g, q);
    const float* xg = x + g * f.group_size;
    float d = 0.0f;
    for (int i = 0; i < f.group_size; ++i) d += q[i] * xg[i];
    total += read_param(w.scales, w.scale_dtype, n * w.groups + g) * d;
    if (w.biases) total += read_param(w.biases, w.scale_dtype, n * w.groups + g) * xsum[g];
  }
  return total;
}

using QDot = float (*)(const QFormat&, const QMatrix&, int64_t, const float*, const float*);

QDot pick_qdot(const QFormat& f) {
#ifdef LATHE_QMM_AVX2
  if (f.mxfp4) return qdot_fast<4, true>;
  if (f.bits == 4) return qdot_fast<4, false>;
  if (f.bits == 8) return qdot_fast<8, false>;
#endif
  return qdot_generic;
}

// Rows of W processed per sgemm call: a tile of about 256 KiB of float32.
int64_t tile_rows(int64_t cols, int64_t rows) {
  return std::clamp<int64_t>((int64_t(1) << 16) / std::max<int64_t>(cols, 1), 8,
                             std::max<int64_t>(rows, 8));
}

void dequantize_parallel(const QFormat& f, const QMatrix& w, int64_t r0, int64_t r1, float* dst) {
  int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(w.cols, 1));
  parallel_for(r1 - r0, grain, [&](int64_t a, int64_t b) {
    dequantize_rows(f, w, r0 + a, r0 + b, dst + a * w.cols);
  });
}

}  // namespace

void dequantize_rows(const QFormat& f, const QMatrix& w, int64_t r0, int64_t r1, float* dst) {
  float q[128] = {};  // group_size <= 128
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.codes + r * w.row_bytes;
    for (int64_t g = 0; g < w.groups; ++g) {
      unpack_group(f, row, g, q);
      float s = read_param(w.scales, w.scale_dtype, r * w.groups + g);
      float b = w.biases ? read_param(w.biases, w.scale_dtype, r * w.groups + g) : 0.0f;
      for (int i = 0; i < f.group_size; ++i) dst[i] = s * q[i] + b;
      dst += f.group_size;
    }
  }
}

void qmatmul(const QFormat& f, const QMatrix& w, const float* x, int64_t m, bool transpose,
             float* y) {
  if (transpose) {
    const int64_t n = w.rows, k = w.cols;
    if (m == 1) {
      std::vector<float> xsum(w.groups, 0.0f);
      for (int64_t g = 0; g < w.groups; ++g)
        for (int i = 0; i < f.group_size; ++i) xsum[g] += x[g * f.group_size + i];
      QDot dot = pick_qdot(f);
      int64_t grain = std::max<int64_t>(8, (int64_t(1) << 18) / std::max<int64_t>(k, 1));
      parallel_for(n, grain, [&](int64_t a, int64_t b) {
        for (int64_t i = a; i < b; ++i) y[i] = dot(f, w, i, x, xsum.data());
      });
      return;
    }
    const int64_t t = tile_rows(k, n);
    std::vector<float> tile(t * k);
    for (int64_t n0 = 0; n0 < n; n0 += t) {
      int64_t n1 = std::min(n, n0 + t);
      dequantize_parallel(f, w, n0, n1, tile.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n1 - n0, k, 1.0f, x, k, tile.data(),
                  k, 0.0f, y + n0, n);
    }
    return;
  }
  const int64_t k = w.rows, n = w.cols;
  if (k == 0) {
    std::fill(y, y + m * n, 0.0f);
    return;
  }
  const int64_t t = tile_rows(n, k);
  std::vector<float> tile(t * n);
  for (int64_t k0 = 0; k0 < k; k0 += t) {
    int64_t k1 = std::min(k, k0 + t);
    dequantize_parallel(f, w, k0, k1, tile.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k1 - k0, 1.0f, x + k0, k,
                tile.data(), n, k0 == 0 ? 0.0f : 1.0f, y, n);
  }
}

void affine_params(const float* w, int group_size, int bits, float& scale, float& bias) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int i = 0; i < group_size; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  const float n_bins = float((1 << bits) - 1);
  const bool min_is_edge = std::abs(lo) > std::abs(hi);
  float s = std::max((hi - lo) / n_bins, 1e-7f);
  s = min_is_edge ? s : -s;
  const float edge = min_is_edge ? lo : hi;
  const float q0 = std::rint(edge / s);
  bias = 0.0f;
  if (q0 != 0.0f) {
    s = edge / q0;
    bias = edge;
  }
  scale = s;
}

uint32_t affine_code(float v, float scale, float bias, int bits) {
  float q = std::rint((v - bias) / scale);
  const float n_bins = float((1 << bits) - 1);
  if (!(q >= 0.0f)) return 0;  // also NaN
  return static_cast<uint32_t>(std::min(q, n_bins));
}

void put_code(uint8_t* row, int64_t j, int bits, uint32_t c) {
  int64_t bit = j * bits;
  uint8_t* p = row + (bit >> 3);
  int sh = static_cast<int>(bit & 7);
  uint32_t v = c << sh;
  p[0] |= static_cast<uint8_t>(v & 0xff);
  if (sh + bits > 8) p[1] |= static_cast<uint8_t>(v >> 8);
}

}  // namespace lathe::cpu
