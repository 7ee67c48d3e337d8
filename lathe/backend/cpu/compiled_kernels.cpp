// Block kernels of fused programs. They apply the scalar definitions of
// elementwise.h exactly as the unfused kernels do, so fused results match bit
// for bit; instances exist per compute type (8), not per dtype (10).
#include "lathe/backend/cpu/compiled_kernels.h"

#include <string>
#include <utility>

#include "lathe/backend/cpu/elementwise.h"

namespace lathe::cpu::fused {

namespace {

constexpr size_t num_unary = static_cast<size_t>(UnaryOp::bitwise_not) + 1;
constexpr size_t num_binary = static_cast<size_t>(BinaryOp::arctan2) + 1;

template <typename T>
void load(const void* src, int64_t stride, void* reg, int64_t n) {
  using C = compute_t<T>;
  const T* x = static_cast<const T*>(src);
  C* y = static_cast<C*>(reg);
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<C>(x[i]);
  } else if (stride == 0) {
    const C v = static_cast<C>(x[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<C>(x[i * stride]);
  }
}

template <typename T>
void store(const void* reg, void* dst, int64_t n) {
  using C = compute_t<T>;
  const C* x = static_cast<const C*>(reg);
  T* y = static_cast<T*>(dst);
  for (int64_t i = 0; i < n; ++i) y[i] = T(x[i]);
}

template <typename H>
void round_to(void* y, int64_t n) {
  float* v = static_cast<float*>(y);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(H(v[i]));
}

template <UnaryOp OP, typename C>
void unary_kernel(const void* a, const void*, const void*, void* y, int64_t n) {
  const C* __restrict x = static_cast<const C*>(a);
  if constexpr (OP == UnaryOp::logical_not) {
    bool* __restrict o = static_cast<bool*>(y);
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] == C(0);
  } else {
    C* __restrict o = static_cast<C*>(y);
    for (int64_t i = 0; i < n; ++i) o[i] = unary_scalar<C>(OP, x[i]);
  }
}

// The same (op, type) pairs the unfused unary kernel accepts.
template <UnaryOp OP, typename C>
constexpr OpFn unary_entry() {
  constexpr bool floating = std::is_floating_point_v<C>;
  constexpr bool any_type = OP == UnaryOp::negative || OP == UnaryOp::abs ||
                            OP == UnaryOp::square || OP == UnaryOp::relu || OP == UnaryOp::sign ||
                            OP == UnaryOp::logical_not;
  if constexpr (OP == UnaryOp::bitwise_not) {
    if constexpr (floating)
      return nullptr;
    else
      return &unary_kernel<OP, C>;
  } else if constexpr (!any_type && !floating) {
    return nullptr;
  } else {
    return &unary_kernel<OP, C>;
  }
}

template <typename C, size_t... I>
OpFn unary_for(int code, std::index_sequence<I...>) {
  static constexpr OpFn table[] = {unary_entry<static_cast<UnaryOp>(I), C>()...};
  return table[code];
}

template <BinaryOp OP, typename C>
void binary_kernel(const void* a, const void* b, const void*, void* y, int64_t n) {
  const C* __restrict x = static_cast<const C*>(a);
  const C* __restrict z = static_cast<const C*>(b);
  if constexpr (OP >= BinaryOp::equal && OP <= BinaryOp::logical_or) {
    bool* __restrict o = static_cast<bool*>(y);
    for (int64_t i = 0; i < n; ++i) o[i] = binary_scalar<C>(OP, x[i], z[i]) != C(0);
  } else {
    C* __restrict o = static_cast<C*>(y);
    for (int64_t i = 0; i < n; ++i) o[i] = binary_scalar<C>(OP, x[i], z[i]);
  }
}

template <BinaryOp OP, typename C>
constexpr OpFn binary_entry() {
  constexpr bool bitwise = OP >= BinaryOp::bitwise_and && OP <= BinaryOp::right_shift;
  if constexpr (bitwise && !std::is_integral_v<C>) {
    return nullptr;
  } else {
    return &binary_kernel<OP, C>;
  }
}

template <typename C, size_t... I>
OpFn binary_for(int code, std::index_sequence<I...>) {
  static constexpr OpFn table[] = {binary_entry<static_cast<BinaryOp>(I), C>()...};
  return table[code];
}

template <typename C>
void select_kernel(const void* c, const void* a, const void* b, void* y, int64_t n) {
  const bool* __restrict k = static_cast<const bool*>(c);
  const C* __restrict x = static_cast<const C*>(a);
  const C* __restrict z = static_cast<const C*>(b);
  C* __restrict o = static_cast<C*>(y);
  for (int64_t i = 0; i < n; ++i) o[i] = k[i] ? x[i] : z[i];
}

// From dtype F to dtype T, as convert_elements does it.
template <typename F, typename T>
void astype_kernel(const void* a, const void*, const void*, void* y, int64_t n) {
  using CF = compute_t<F>;
  using CT = compute_t<T>;
  const CF* __restrict x = static_cast<const CF*>(a);
  CT* __restrict o = static_cast<CT*>(y);
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<T, bool>) {
      o[i] = x[i] != CF(0);
    } else if constexpr (std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>) {
      o[i] = static_cast<float>(T(static_cast<float>(x[i])));
    } else {
      o[i] = static_cast<T>(x[i]);
    }
  }
}

}  // namespace

LoadFn load_fn(Dtype d) {
  return dispatch_dtype(d, [](auto t) -> LoadFn { return &load<decltype(t)>; });
}

StoreFn store_fn(Dtype d) {
  return dispatch_dtype(d, [](auto t) -> StoreFn { return &store<decltype(t)>; });
}

RoundFn round_fn(Dtype d) {
  if (d == float16) return &round_to<float16_t>;
  if (d == bfloat16) return &round_to<bfloat16_t>;
  return nullptr;
}

OpFn op_fn(const FusedOp& op) {
  OpFn fn = nullptr;
  const char* name = "where";
  switch (op.kind) {
    case FusedOp::Kind::unary:
      name = unary_name(static_cast<UnaryOp>(op.code));
      fn = dispatch_dtype(op.arg_dtype, [&](auto t) {
        return unary_for<compute_t<decltype(t)>>(op.code, std::make_index_sequence<num_unary>{});
      });
      break;
    case FusedOp::Kind::binary:
      name = binary_name(static_cast<BinaryOp>(op.code));
      fn = dispatch_dtype(op.arg_dtype, [&](auto t) {
        return binary_for<compute_t<decltype(t)>>(op.code, std::make_index_sequence<num_binary>{});
      });
      break;
    case FusedOp::Kind::select:
      fn = dispatch_dtype(op.arg_dtype,
                          [](auto t) -> OpFn { return &select_kernel<compute_t<decltype(t)>>; });
      break;
    case FusedOp::Kind::astype:
      name = "astype";
      fn = dispatch_dtype(op.arg_dtype, [&](auto f) {
        return dispatch_dtype(
            op.dtype, [](auto t) -> OpFn { return &astype_kernel<decltype(f), decltype(t)>; });
      });
      break;
  }
  if (!fn) throw Error(std::string("[") + name + "] not defined for " + op.arg_dtype.name());
  return fn;
}

}  // namespace lathe::cpu::fused
