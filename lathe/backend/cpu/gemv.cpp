// AVX2/F16C matrix-vector kernels with a scalar fallback. Rows are split over
// threads (parallel_for); each thread streams its slice of W exactly once.
#include "lathe/backend/cpu/gemv.h"

#include <algorithm>
#include <vector>

#include "lathe/backend/cpu/parallel.h"
#include "lathe/core/error.h"
#include "lathe/core/half.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define LATHE_GEMV_AVX2 1
#endif

namespace lathe::cpu {

namespace {

// Below this many weight elements per chunk, thread start-up costs more than it saves.
constexpr int64_t kMinChunkElements = 1 << 17;

#ifdef LATHE_GEMV_AVX2
template <typename T>
inline __m256 load8(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return _mm256_loadu_ps(p);
  } else if constexpr (std::is_same_v<T, bfloat16_t>) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
#endif

template <typename T>
float dot_tail(const T* w, const float* x, int64_t from, int64_t k) {
  float s = 0.0f;
  for (int64_t j = from; j < k; ++j) s += static_cast<float>(w[j]) * x[j];
  return s;
}

// Four rows at a time share each load of x.
template <typename T>
void rows_kernel(const T* w, int64_t ldw, int64_t r0, int64_t r1, int64_t k, const float* x,
                 float* y, float alpha, float beta) {
  auto store = [&](int64_t i, float d) { y[i] = alpha * d + (beta == 0.0f ? 0.0f : beta * y[i]); };
  int64_t i = r0;
#ifdef LATHE_GEMV_AVX2
  const int64_t k8 = k & ~int64_t(7);
  for (; i + 4 <= r1; i += 4) {
    const T* w0 = w + i * ldw;
    const T* w1 = w0 + ldw;
    const T* w2 = w1 + ldw;
    const T* w3 = w2 + ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t j = 0; j < k8; j += 8) {
      __m256 xv = _mm256_loadu_ps(x + j);
      a0 = _mm256_fmadd_ps(load8(w0 + j), xv, a0);
      a1 = _mm256_fmadd_ps(load8(w1 + j), xv, a1);
      a2 = _mm256_fmadd_ps(load8(w2 + j), xv, a2);
      a3 = _mm256_fmadd_ps(load8(w3 + j), xv, a3);
    }
    store(i, hsum(a0) + dot_tail(w0, x, k8, k));
    store(i + 1, hsum(a1) + dot_tail(w1, x, k8, k));
    store(i + 2, hsum(a2) + dot_tail(w2, x, k8, k));
    store(i + 3, hsum(a3) + dot_tail(w3, x, k8, k));
  }
  for (; i < r1; ++i) {
    const T* wr = w + i * ldw;
    __m256 a = _mm256_setzero_ps();
    for (int64_t j = 0; j < k8; j += 8)
      a = _mm256_fmadd_ps(load8(wr + j), _mm256_loadu_ps(x + j), a);
    store(i, hsum(a) + dot_tail(wr, x, k8, k));
  }
#else
  for (; i < r1; ++i) store(i, dot_tail(w + i * ldw, x, 0, k));
#endif
}

// Columns [c0, c1) of y accumulate x[i] * W[i, c0:c1] over all rows i.
template <typename T>
void cols_kernel(const T* w, int64_t ldw, int64_t k, int64_t c0, int64_t c1, const float* x,
                 float* y, float alpha, float beta) {
  std::vector<float> acc(c1 - c0, 0.0f);
  float* a = acc.data();
  const int64_t n = c1 - c0;
  for (int64_t i = 0; i < k; ++i) {
    const T* wr = w + i * ldw + c0;
    const float xi = x[i];
    int64_t j = 0;
#ifdef LATHE_GEMV_AVX2
    __m256 xv = _mm256_set1_ps(xi);
    for (; j + 8 <= n; j += 8) {
      _mm256_storeu_ps(a + j, _mm256_fmadd_ps(load8(wr + j), xv, _mm256_loadu_ps(a + j)));
    }
#endif
    for (; j < n; ++j) a[j] += static_cast<float>(wr[j]) * xi;
  }
  for (int64_t j = 0; j < n; ++j) {
    float& out = y[c0 + j];
    out = alpha * a[j] + (beta == 0.0f ? 0.0f : beta * out);
  }
}

#ifdef LATHE_GEMV_AVX2
// bfloat16 rows, 16 weights per 256-bit load: a 32-bit lane holds weights 2l (low half)
// and 2l + 1 (high half), so shifting the lane up by 16 gives the even weight as a float and
// masking off the low half gives the odd one. x is read pre-split into the matching even and
// odd lanes (split_x), which saves the widening shuffle per 8 weights that load8 needs: 5
// instructions per 16 weights instead of 8, none on the shuffle port.
constexpr int64_t kSplitBlock = 16;

// xs[16b + l] = x[16b + 2l], xs[16b + 8 + l] = x[16b + 2l + 1] for l < 8 and whole blocks b.
void split_x(const float* x, int64_t k, float* xs) {
  for (int64_t b = 0; b + kSplitBlock <= k; b += kSplitBlock) {
    for (int l = 0; l < 8; ++l) {
      xs[b + l] = x[b + 2 * l];
      xs[b + 8 + l] = x[b + 2 * l + 1];
    }
  }
}

inline void bf16_block(const uint16_t* w, __m256 xe, __m256 xo, __m256& even, __m256& odd) {
  const __m256i hi = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  even = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)), xe, even);
  odd = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(v, hi)), xo, odd);
}

void rows_kernel_bf16(const bfloat16_t* w, int64_t ldw, int64_t r0, int64_t r1, int64_t k,
                      const float* x, const float* xs, float* y, float alpha, float beta) {
  auto store = [&](int64_t i, float d) { y[i] = alpha * d + (beta == 0.0f ? 0.0f : beta * y[i]); };
  const int64_t k16 = k & ~(kSplitBlock - 1);
  auto row = [&](int64_t i) { return reinterpret_cast<const uint16_t*>(w + i * ldw); };
  // Four rows a quarter of the range apart: each is the head of a long sequential stream
  // (the rows of a quarter follow each other), which keeps more lines in flight than one
  // stream per thread, and the hardware prefetcher follows each.
  const int64_t s = (r1 - r0) / 4;
  for (int64_t t = r0; t < r0 + s; ++t) {
    const int64_t i0 = t, i1 = t + s, i2 = t + 2 * s, i3 = t + 3 * s;
    const uint16_t *w0 = row(i0), *w1 = row(i1), *w2 = row(i2), *w3 = row(i3);
    __m256 e0 = _mm256_setzero_ps(), o0 = e0, e1 = e0, o1 = e0, e2 = e0, o2 = e0, e3 = e0, o3 = e0;
    for (int64_t j = 0; j < k16; j += kSplitBlock) {
      const __m256 xe = _mm256_loadu_ps(xs + j), xo = _mm256_loadu_ps(xs + j + 8);
      bf16_block(w0 + j, xe, xo, e0, o0);
      bf16_block(w1 + j, xe, xo, e1, o1);
      bf16_block(w2 + j, xe, xo, e2, o2);
      bf16_block(w3 + j, xe, xo, e3, o3);
    }
    store(i0, hsum(_mm256_add_ps(e0, o0)) + dot_tail(w + i0 * ldw, x, k16, k));
    store(i1, hsum(_mm256_add_ps(e1, o1)) + dot_tail(w + i1 * ldw, x, k16, k));
    store(i2, hsum(_mm256_add_ps(e2, o2)) + dot_tail(w + i2 * ldw, x, k16, k));
    store(i3, hsum(_mm256_add_ps(e3, o3)) + dot_tail(w + i3 * ldw, x, k16, k));
  }
  int64_t i = r0 + 4 * s;
  for (; i < r1; ++i) {
    const uint16_t* wr = row(i);
    __m256 e = _mm256_setzero_ps(), o = e;
    for (int64_t j = 0; j < k16; j += kSplitBlock) {
      bf16_block(wr + j, _mm256_loadu_ps(xs + j), _mm256_loadu_ps(xs + j + 8), e, o);
    }
    store(i, hsum(_mm256_add_ps(e, o)) + dot_tail(w + i * ldw, x, k16, k));
  }
}
#endif

template <typename F>
void dispatch_weight(Dtype d, F&& f) {
  if (d == float32) {
    f(float{});
  } else if (d == bfloat16) {
    f(bfloat16_t{});
  } else if (d == float16) {
    f(float16_t{});
  } else {
    throw Error(std::string("[matmul] gemv does not handle ") + d.name() + " weights");
  }
}

}  // namespace

void gemv_rows(Dtype wdtype, const void* w, int64_t ldw, int64_t n, int64_t k, const float* x,
               float* y, float alpha, float beta) {
  dispatch_weight(wdtype, [&](auto t) {
    using T = decltype(t);
    const T* wt = static_cast<const T*>(w);
    int64_t grain = std::max<int64_t>(4, kMinChunkElements / std::max<int64_t>(k, 1));
#ifdef LATHE_GEMV_AVX2
    if constexpr (std::is_same_v<T, bfloat16_t>) {
      thread_local std::vector<float> xs;
      xs.resize(static_cast<size_t>(k));
      split_x(x, k, xs.data());
      const float* xsp = xs.data();
      parallel_for(n, grain, [&](int64_t r0, int64_t r1) {
        rows_kernel_bf16(wt, ldw, r0, r1, k, x, xsp, y, alpha, beta);
      });
      return;
    }
#endif
    parallel_for(n, grain, [&](int64_t r0, int64_t r1) {
      rows_kernel(wt, ldw, r0, r1, k, x, y, alpha, beta);
    });
  });
}

void gemv_cols(Dtype wdtype, const void* w, int64_t ldw, int64_t k, int64_t n, const float* x,
               float* y, float alpha, float beta) {
  dispatch_weight(wdtype, [&](auto t) {
    using T = decltype(t);
    const T* wt = static_cast<const T*>(w);
    int64_t grain = std::max<int64_t>(64, kMinChunkElements / std::max<int64_t>(k, 1));
    parallel_for(n, grain, [&](int64_t c0, int64_t c1) {
      cols_kernel(wt, ldw, k, c0, c1, x, y, alpha, beta);
    });
  });
}

void to_float(Dtype dtype, const void* src, float* dst, int64_t n) {
  dispatch_weight(dtype, [&](auto t) {
    using T = decltype(t);
    const T* s = static_cast<const T*>(src);
    int64_t i = 0;
#ifdef LATHE_GEMV_AVX2
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8(s + i));
#endif
    for (; i < n; ++i) dst[i] = static_cast<float>(s[i]);
  });
}

}  // namespace lathe::cpu
