// CPU kernels of the cumulative scans (cumsum, cumprod, cummax, cummin), one
// line along the axis at a time; 16-bit floats accumulate in float32.
#include <cmath>
#include <limits>
#include <type_traits>

#include "lathe/backend/cpu/lines.h"
#include "lathe/primitives/reduce.h"

namespace lathe {

using detail::Node;

namespace {

template <typename A>
A scan_init(ScanOp op) {
  switch (op) {
    case ScanOp::sum: return A(0);
    case ScanOp::prod: return A(1);
    case ScanOp::max:
      if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
      return std::numeric_limits<A>::lowest();
    case ScanOp::min:
      if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
      return std::numeric_limits<A>::max();
  }
  return A(0);
}

template <ScanOp OP, typename A>
inline A scan_step(A acc, A x) {
  if constexpr (OP == ScanOp::sum) {
    return static_cast<A>(acc + x);
  } else if constexpr (OP == ScanOp::prod) {
    return static_cast<A>(acc * x);
  } else {
    // A NaN, once met, stays (numpy's maximum.accumulate).
    if constexpr (std::is_floating_point_v<A>) {
      if (std::isnan(acc) || std::isnan(x)) return std::isnan(acc) ? acc : x;
    }
    if constexpr (OP == ScanOp::max) {
      return x > acc ? x : acc;
    } else {
      return x < acc ? x : acc;
    }
  }
}

template <ScanOp OP, typename T>
void scan_typed(const Node& in, int axis, bool reverse, bool inclusive, Node& out) {
  using A = compute_t<T>;
  const T* x = in.data<T>();
  T* o = out.data<T>();
  const int64_t n = in.shape[axis];
  const int64_t is = in.strides[axis];
  const Strides os = row_strides(out.shape);
  const int64_t ost = os[axis];
  const A init = scan_init<A>(OP);
  cpu::for_each_line(in.shape, in.strides, os, axis, [&](int64_t io, int64_t oo) {
    const T* src = x + io;
    T* dst = o + oo;
    A acc = init;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = reverse ? n - 1 - k : k;
      const A v = static_cast<A>(static_cast<compute_t<T>>(src[i * is]));
      if (inclusive) {
        acc = scan_step<OP>(acc, v);
        dst[i * ost] = static_cast<T>(acc);
      } else {
        dst[i * ost] = static_cast<T>(acc);
        acc = scan_step<OP>(acc, v);
      }
    }
  });
}

template <ScanOp OP>
void scan_dispatch(const Node& in, int axis, bool reverse, bool inclusive, Node& out) {
  dispatch_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    constexpr bool promoted_away =
        std::is_same_v<T, bool> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>;
    if constexpr ((OP == ScanOp::sum || OP == ScanOp::prod) && promoted_away) {
      throw Error(std::string("[scan] internal error: no ") + in.dtype.name() + " kernel");
    } else {
      scan_typed<OP, T>(in, axis, reverse, inclusive, out);
    }
  });
}

}  // namespace

void Scan::eval_cpu(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  if (out.size() == 0) return;
  switch (op_) {
    case ScanOp::sum: return scan_dispatch<ScanOp::sum>(in, axis_, reverse_, inclusive_, out);
    case ScanOp::prod: return scan_dispatch<ScanOp::prod>(in, axis_, reverse_, inclusive_, out);
    case ScanOp::max: return scan_dispatch<ScanOp::max>(in, axis_, reverse_, inclusive_, out);
    case ScanOp::min: return scan_dispatch<ScanOp::min>(in, axis_, reverse_, inclusive_, out);
  }
}

}  // namespace lathe
