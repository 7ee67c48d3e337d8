// CPU kernel of softmax along one axis: max, shifted exponentials and their
// sum, then a scale. float32 and float64 lines that are contiguous run in
// place; 16-bit and strided lines go through a float buffer.
#include <cmath>
#include <type_traits>
#include <vector>

#include "lathe/backend/cpu/lines.h"
#include "lathe/primitives/reduce.h"

namespace lathe {

using detail::Node;

namespace {

template <typename C>
C line_max(const C* x, int64_t n) {
  C lane[8];
  for (C& l : lane) l = x[0];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      C v = x[i + j];
      lane[j] = (v > lane[j] || v != v) ? v : lane[j];
    }
  }
  C m = x[0];
  for (C l : lane) m = (l > m || l != l) ? l : m;
  for (; i < n; ++i) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
  return m;
}

// y = softmax(x); y may alias x.
template <typename C>
void line_softmax(const C* x, int64_t n, C* y) {
  const C m = line_max(x, n);
  C lane[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      C e = std::exp(x[i + j] - m);
      y[i + j] = e;
      lane[j] += e;
    }
  }
  C s = 0;
  for (C l : lane) s += l;
  for (; i < n; ++i) {
    C e = std::exp(x[i] - m);
    y[i] = e;
    s += e;
  }
  const C inv = C(1) / s;
  for (int64_t k = 0; k < n; ++k) y[k] *= inv;
}

template <typename T>
void softmax_typed(const Node& in, int axis, Node& out) {
  using C = compute_t<T>;
  const T* x = in.data<T>();
  T* o = out.data<T>();
  const int64_t n = in.shape[axis];
  const int64_t is = in.strides[axis];
  const Strides os = row_strides(out.shape);
  const int64_t ost = os[axis];
  std::vector<C> buf;
  cpu::for_each_line(in.shape, in.strides, os, axis, [&](int64_t io, int64_t oo) {
    const T* src = x + io;
    T* dst = o + oo;
    if constexpr (std::is_same_v<T, C>) {
      if (is == 1 && ost == 1) return line_softmax(src, n, dst);
    }
    buf.resize(n);
    for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<C>(src[i * is]);
    line_softmax(buf.data(), n, buf.data());
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
