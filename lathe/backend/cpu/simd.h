// Eight-float vectors (GCC/Clang vector extensions, AVX2 where enabled) for the
// loops the auto-vectorizer leaves scalar: NaN-propagating max/min and exp.
// Vectors only travel between inline functions, never across an ABI boundary.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "lathe/core/half.h"

namespace lathe::cpu::simd {

using f8 = float __attribute__((vector_size(32)));
using i8 = int32_t __attribute__((vector_size(32)));
using u16x8 = uint16_t __attribute__((vector_size(16)));

// Element types that load into an f8 cheaply.
template <typename T>
inline constexpr bool loads_f8 = std::is_same_v<T, float> || std::is_same_v<T, bfloat16_t>;

inline f8 splat(float x) { return f8{x, x, x, x, x, x, x, x}; }

template <typename T>
inline f8 load(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    f8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else {
    static_assert(std::is_same_v<T, bfloat16_t>);
    u16x8 h;
    std::memcpy(&h, p, sizeof h);
    i8 w = __builtin_convertvector(h, i8) << 16;  // bfloat16 is float's upper half
    f8 v;
    std::memcpy(&v, &w, sizeof v);
    return v;
  }
}

inline void store(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }

// Lanes where x is NaN (std::isnan has no vector form).
inline i8 nan_mask(f8 x) { return x != x; }  // NOLINT(misc-redundant-expression)

// Once a lane holds NaN it keeps it (numpy's maximum/minimum).
inline f8 max_nan(f8 acc, f8 x) { return ((x > acc) | nan_mask(x)) ? x : acc; }
inline f8 min_nan(f8 acc, f8 x) { return ((x < acc) | nan_mask(x)) ? x : acc; }

inline float max_lanes(f8 v) {
  float m = v[0];
  for (int j = 1; j < 8 && !std::isnan(m); ++j) m = (v[j] > m || std::isnan(v[j])) ? v[j] : m;
  return m;
}
inline float min_lanes(f8 v) {
  float m = v[0];
  for (int j = 1; j < 8 && !std::isnan(m); ++j) m = (v[j] < m || std::isnan(v[j])) ? v[j] : m;
  return m;
}
inline float sum_lanes(f8 v) {
  float s = 0;
  for (int j = 0; j < 8; ++j) s += v[j];
  return s;
}

// The NaN-propagating maximum (MAX) or minimum of x[0, n), n >= 8. Four
// accumulators hide the latency of the compare-and-select chain.
template <bool MAX, typename T>
inline float extreme(const T* x, int64_t n) {
  auto pick = [](f8 acc, f8 v) { return MAX ? max_nan(acc, v) : min_nan(acc, v); };
  f8 a0 = load(x), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 8;
  for (; i + 32 <= n; i += 32) {
    a0 = pick(a0, load(x + i));
    a1 = pick(a1, load(x + i + 8));
    a2 = pick(a2, load(x + i + 16));
    a3 = pick(a3, load(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) a0 = pick(a0, load(x + i));
  a0 = pick(pick(a0, a1), pick(a2, a3));
  float m = MAX ? max_lanes(a0) : min_lanes(a0);
  for (; i < n && !std::isnan(m); ++i) {
    float v = static_cast<float>(x[i]);
    if ((MAX ? v > m : v < m) || std::isnan(v)) m = v;
  }
  return m;
}

// exp(x) for x <= 0 (shifted exponentials in softmax and logsumexp), within
// ~2 ulp: exactly 1 at 0, exactly 0 below the log of the smallest normal
// float, NaN for NaN. Range reduction x = n ln2 + r, |r| <= ln2/2, then a
// degree-6 polynomial for e^r and 2^n built in the exponent bits.
inline f8 exp_nonpositive(f8 x) {
  const f8 lo = splat(-87.33654475f);
  f8 xc = x < lo ? lo : x;
  f8 t = xc * splat(1.44269504088896341f) - splat(0.5f);
  i8 n = __builtin_convertvector(t, i8);  // truncation of t - 0.5 rounds t to nearest for t <= 0
  f8 nf = __builtin_convertvector(n, f8);
  f8 r = xc - nf * splat(0.693359375f) + nf * splat(2.12194440e-4f);
  f8 p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  f8 y = p * r * r + r + splat(1.0f);
  i8 bits = (n + 127) << 23;
  f8 scale;
  std::memcpy(&scale, &bits, sizeof scale);
  y = y * scale;
  y = x < lo ? splat(0.0f) : y;
  return nan_mask(x) ? x : y;
}

}  // namespace lathe::cpu::simd
