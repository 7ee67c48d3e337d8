// CPU kernels of the elementwise primitives. Each (op, dtype) pair gets one
// loop with the op known at compile time; 16-bit floats compute in float.
#include "lathe/backend/cpu/elementwise.h"

#include <utility>

#include "lathe/backend/cpu/strided.h"

namespace lathe {

using detail::Node;

namespace {

template <typename T, typename F>
void unary_loop(const Node& in, Node& out, F f) {
  const T* a = in.data<T>();
  T* o = out.data<T>();
  if (in.contiguous || (in.data_size == in.size() && in.strides == out.strides)) {
    size_t n = out.size();
    for (size_t i = 0; i < n; ++i) o[i] = f(a[i]);
    return;
  }
  Strides os = row_strides(out.shape);
  cpu::for_each_row<2>(out.shape, {&in.strides, &os}, [&](auto off, int64_t n, auto st) {
    const T* x = a + off[0];
    T* y = o + off[1];
    for (int64_t i = 0; i < n; ++i) y[i * st[1]] = f(x[i * st[0]]);
  });
}

template <UnaryOp OP, typename T>
void unary_typed(const Node& in, Node& out) {
  using C = compute_t<T>;
  unary_loop<T>(in, out, [](T x) { return T(cpu::unary_scalar<C>(OP, static_cast<C>(x))); });
}

template <UnaryOp OP>
void unary_op(const Node& in, Node& out) {
  dispatch_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    constexpr bool floating_only = OP != UnaryOp::negative && OP != UnaryOp::abs &&
                                   OP != UnaryOp::square && OP != UnaryOp::relu &&
                                   OP != UnaryOp::sign && OP != UnaryOp::bitwise_not &&
                                   OP != UnaryOp::logical_not;
    if constexpr (floating_only && !std::is_floating_point_v<compute_t<T>>) {
      throw Error(std::string("[") + unary_name(OP) + "] not defined for " + in.dtype.name());
    } else if constexpr (OP == UnaryOp::bitwise_not && std::is_floating_point_v<compute_t<T>>) {
      throw Error(std::string("[bitwise_not] not defined for ") + in.dtype.name());
    } else {
      unary_typed<OP, T>(in, out);
    }
  });
}

template <typename T>
void logical_not_typed(const Node& in, Node& out) {
  const T* a = in.data<T>();
  bool* o = out.data<bool>();
  Strides os = row_strides(out.shape);
  cpu::for_each_row<2>(out.shape, {&in.strides, &os}, [&](auto off, int64_t n, auto st) {
    for (int64_t i = 0; i < n; ++i) {
      o[off[1] + i * st[1]] = static_cast<compute_t<T>>(a[off[0] + i * st[0]]) == compute_t<T>(0);
    }
  });
}

template <size_t... I>
void unary_dispatch(UnaryOp op, const Node& in, Node& out, std::index_sequence<I...>) {
  ((static_cast<size_t>(op) == I ? unary_op<static_cast<UnaryOp>(I)>(in, out) : void()), ...);
}

template <typename T, typename R, typename F>
void binary_loop(const Node& a, const Node& b, Node& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* o = out.data<R>();
  size_t n = out.size();
  bool a_full = a.contiguous && a.size() == n;
  bool b_full = b.contiguous && b.size() == n;
  if (a_full && b_full) {
    for (size_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
    return;
  }
  if (a_full && b.size() == 1) {
    T y = pb[0];
    for (size_t i = 0; i < n; ++i) o[i] = f(pa[i], y);
    return;
  }
  if (b_full && a.size() == 1) {
    T x = pa[0];
    for (size_t i = 0; i < n; ++i) o[i] = f(x, pb[i]);
    return;
  }
  Strides sa = broadcast_strides(a, out.shape), sb = broadcast_strides(b, out.shape);
  Strides so = row_strides(out.shape);
  cpu::for_each_row<3>(out.shape, {&sa, &sb, &so}, [&](auto off, int64_t m, auto st) {
    const T* x = pa + off[0];
    const T* y = pb + off[1];
    R* z = o + off[2];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < m; ++i) z[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 0) {
      T yy = y[0];
      for (int64_t i = 0; i < m; ++i) z[i] = f(x[i], yy);
    } else {
      for (int64_t i = 0; i < m; ++i) z[i] = f(x[i * st[0]], y[i * st[1]]);
    }
  });
}

template <BinaryOp OP>
void binary_op(const Node& a, const Node& b, Node& out) {
  dispatch_dtype(a.dtype, [&](auto t) {
    using T = decltype(t);
    using C = compute_t<T>;
    constexpr bool bitwise = OP >= BinaryOp::bitwise_and && OP <= BinaryOp::right_shift;
    if constexpr (bitwise && !std::is_integral_v<C>) {
      throw Error(std::string("[") + binary_name(OP) + "] not defined for " + a.dtype.name());
    } else if constexpr ((OP >= BinaryOp::equal && OP <= BinaryOp::logical_or)) {
      binary_loop<T, bool>(a, b, out, [](T x, T y) {
        return cpu::binary_scalar<C>(OP, static_cast<C>(x), static_cast<C>(y)) != C(0);
      });
    } else {
      binary_loop<T, T>(a, b, out, [](T x, T y) {
        return T(cpu::binary_scalar<C>(OP, static_cast<C>(x), static_cast<C>(y)));
      });
    }
  });
}

template <size_t... I>
void binary_dispatch(BinaryOp op, const Node& a, const Node& b, Node& out,
                     std::index_sequence<I...>) {
  ((static_cast<size_t>(op) == I ? binary_op<static_cast<BinaryOp>(I)>(a, b, out) : void()), ...);
}

}  // namespace

void Unary::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  if (op_ == UnaryOp::logical_not) {
    out.allocate();
    dispatch_dtype(x.dtype, [&](auto t) { logical_not_typed<decltype(t)>(x, out); });
    return;
  }
  if (x.donatable() && x.dtype == out.dtype) {
    out.donate_from(*in[0]);
    Node& self = out;  // in place: input and output share the buffer
    unary_dispatch(op_, self, self, std::make_index_sequence<25>{});
    return;
  }
  out.allocate();
  unary_dispatch(op_, x, out, std::make_index_sequence<25>{});
}

void Binary::eval_cpu(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& b = *in[1];
  out.allocate();
  binary_dispatch(op_, a, b, out, std::make_index_sequence<23>{});
}

void Select::eval_cpu(const NodeList& in, Node& out) {
  const Node& c = *in[0];
  const Node& a = *in[1];
  const Node& b = *in[2];
  out.allocate();
  Strides sc = broadcast_strides(c, out.shape), sa = broadcast_strides(a, out.shape),
          sb = broadcast_strides(b, out.shape), so = row_strides(out.shape);
  auto run = [&](auto t) {
    using T = decltype(t);
    const bool* pc = c.data<bool>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    cpu::for_each_row<4>(out.shape, {&sc, &sa, &sb, &so}, [&](auto off, int64_t n, auto st) {
      for (int64_t i = 0; i < n; ++i) {
        po[off[3] + i * st[3]] =
            pc[off[0] + i * st[0]] ? pa[off[1] + i * st[1]] : pb[off[2] + i * st[2]];
      }
    });
  };
  switch (out.dtype.size()) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    default: run(uint64_t{}); break;
  }
}

void AsType::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (x.contiguous) {
    convert_elements(x.raw(), x.dtype, out.raw(), out.dtype, x.size());
    return;
  }
  std::vector<char> tmp(x.nbytes());
  cpu::gather_contiguous(x, tmp.data());
  convert_elements(tmp.data(), x.dtype, out.raw(), out.dtype, x.size());
}

}  // namespace lathe
