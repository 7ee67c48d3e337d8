// CPU kernel of softmax along one axis: max, shifted exponentials and their
// sum, then a scale. Contiguous float32/float64 lines are computed in place in
// the output; 16-bit and strided lines go through a float line buffer taken
// from the caching allocator (a fresh large malloc per call would page-fault).
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>

#include "lathe/backend/cpu/lines.h"
#include "lathe/backend/cpu/simd.h"
#include "lathe/primitives/reduce.h"

namespace lathe {

using detail::Node;

namespace {

// NaN-propagating maximum of acc and x[0, n).
template <typename C>
C chunk_max(const C* x, int64_t n, C acc) {
  int64_t i = 0;
  if constexpr (std::is_same_v<C, float>) {
    if (n >= 8) {
      float m = cpu::simd::extreme<true>(x, n);
      return (m > acc || std::isnan(m)) && !std::isnan(acc) ? m : acc;
    }
  }
  for (; i < n && !std::isnan(acc); ++i) acc = (x[i] > acc || std::isnan(x[i])) ? x[i] : acc;
  return acc;
}

// y = exp(x - m) (y may alias x, or be null); returns the sum.
template <typename C>
C chunk_exp(const C* x, int64_t n, C m, C* y) {
  int64_t i = 0;
  C s = 0;
  if constexpr (std::is_same_v<C, float>) {
    namespace simd = cpu::simd;
    const simd::f8 mv = simd::splat(m);
    simd::f8 acc = simd::splat(0.0f);
    for (; i + 8 <= n; i += 8) {
      simd::f8 e = simd::exp_nonpositive(simd::load(x + i) - mv);
      if (y) simd::store(y + i, e);
      acc += e;
    }
    s = simd::sum_lanes(acc);
  }
  for (; i < n; ++i) {
    C e = std::exp(x[i] - m);
    if (y) y[i] = e;
    s += e;
  }
  return s;
}

template <typename C>
void line_in_place(const C* x, int64_t n, C* y) {
  const C m = chunk_max(x, n, -std::numeric_limits<C>::infinity());
  const C inv = C(1) / chunk_exp(x, n, m, y);
  for (int64_t k = 0; k < n; ++k) y[k] *= inv;
}

template <typename T>
void softmax_typed(const Node& in, int axis, Node& out) {
  const T* x = in.data<T>();
  T* o = out.data<T>();
  const int64_t n = in.shape[axis];
  const int64_t is = in.strides[axis];
  const Strides os = row_strides(out.shape);
  const int64_t ost = os[axis];
  using C = compute_t<T>;
  std::shared_ptr<Buffer> scratch;
  C* buf = nullptr;
  if (!std::is_same_v<T, C> || is != 1 || ost != 1) {
    scratch = cpu_allocator().allocate(n * sizeof(C));
    buf = static_cast<C*>(scratch->ptr());
  }
  cpu::for_each_line(in.shape, in.strides, os, axis, [&](int64_t io, int64_t oo) {
    const T* src = x + io;
    T* dst = o + oo;
    if constexpr (std::is_same_v<T, C>) {
      if (!buf) return line_in_place(src, n, dst);
    }
    for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<C>(src[i * is]);
    line_in_place(buf, n, buf);
    for (int64_t i = 0; i < n; ++i) dst[i * ost] = static_cast<T>(buf[i]);
  });
}

}  // namespace

void Softmax::eval_cpu(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  if (out.size() == 0) return;
  dispatch_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      softmax_typed<T>(in, axis_, out);
    } else {
      throw Error(std::string("[softmax] internal error: no ") + in.dtype.name() + " kernel");
    }
  });
}

}  // namespace lathe
