// CPU kernels of argmax / argmin. A contiguous line is scanned in blocks whose
// extreme is found with vectorizable selects; only the winning block is
// searched for the first index holding the extreme.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "lathe/backend/cpu/lines.h"
#include "lathe/backend/cpu/simd.h"
#include "lathe/primitives/reduce.h"

namespace lathe {

using detail::Node;

namespace {

template <bool MAX, typename C>
inline bool better(C x, C best) {
  if constexpr (MAX) {
    return x > best;
  } else {
    return x < best;
  }
}

template <typename C>
inline bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::isnan(x);
  } else {
    return false;
  }
}

// Plain scan: the first extreme, or the first NaN.
template <bool MAX, typename T>
uint32_t arg_strided(const T* x, int64_t n, int64_t stride) {
  using C = compute_t<T>;
  C best = static_cast<C>(x[0]);
  if (is_nan(best)) return 0;
  int64_t bi = 0;
  for (int64_t i = 1; i < n; ++i) {
    C v = static_cast<C>(x[i * stride]);
    if (is_nan(v)) return static_cast<uint32_t>(i);
    if (better<MAX>(v, best)) {
      best = v;
      bi = i;
    }
  }
  return static_cast<uint32_t>(bi);
}

// The extreme of x[b, e) (NaN if it holds one).
template <bool MAX, typename T>
compute_t<T> block_extreme(const T* x, int64_t b, int64_t e) {
  using C = compute_t<T>;
  if constexpr (cpu::simd::loads_f8<T>) {
    namespace simd = cpu::simd;
    if (e - b < 8) return static_cast<C>(x[arg_strided<MAX>(x + b, e - b, 1) + b]);
    return simd::extreme<MAX>(x + b, e - b);
  } else {
    int64_t i = b;
    C lane[8];
    for (C& l : lane) l = static_cast<C>(x[b]);
    for (; i + 8 <= e; i += 8) {
      for (int j = 0; j < 8; ++j) {
        C v = static_cast<C>(x[i + j]);
        lane[j] = (better<MAX>(v, lane[j]) || is_nan(v)) ? v : lane[j];
      }
    }
    C m = lane[0];
    for (int j = 1; j < 8 && !is_nan(m); ++j) {
      if (better<MAX>(lane[j], m) || is_nan(lane[j])) m = lane[j];
    }
    for (; i < e && !is_nan(m); ++i) {
      C v = static_cast<C>(x[i]);
      if (better<MAX>(v, m) || is_nan(v)) m = v;
    }
    return m;
  }
}

template <bool MAX, typename T>
uint32_t arg_contiguous(const T* x, int64_t n) {
  using C = compute_t<T>;
  constexpr int64_t kBlock = 256;
  if (n < 2 * kBlock) return arg_strided<MAX>(x, n, 1);
  C best = static_cast<C>(x[0]);
  int64_t best_block = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    C m = block_extreme<MAX>(x, b, e);
    if (is_nan(m)) return static_cast<uint32_t>(b) + arg_strided<MAX>(x + b, e - b, 1);
    if (better<MAX>(m, best)) {
      best = m;
      best_block = b;
    }
  }
  for (int64_t k = best_block;; ++k) {
    if (static_cast<C>(x[k]) == best) return static_cast<uint32_t>(k);
  }
}

template <bool MAX, typename T>
void arg_reduce_typed(const Node& in, int axis, const Strides& os, Node& out) {
  const T* x = in.data<T>();
  uint32_t* o = out.data<uint32_t>();
  const int64_t n = in.shape[axis];
  const int64_t s = in.strides[axis];
  cpu::for_each_line(in.shape, in.strides, os, axis, [&](int64_t io, int64_t oo) {
    o[oo] = s == 1 ? arg_contiguous<MAX>(x + io, n) : arg_strided<MAX>(x + io, n, s);
  });
}

}  // namespace

void ArgReduce::eval_cpu(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  if (out.size() == 0) return;
  Shape kept = in.shape;
  kept[axis_] = 1;
  Strides os = row_strides(kept);
  dispatch_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    if (op_ == ArgReduceOp::argmax) {
      arg_reduce_typed<true, T>(in, axis_, os, out);
    } else {
      arg_reduce_typed<false, T>(in, axis_, os, out);
    }
  });
}

}  // namespace lathe
