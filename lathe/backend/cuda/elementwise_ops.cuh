// Device definitions of the elementwise ops, mirroring lathe/backend/cpu/elementwise.h
// so that the GPU computes what the CPU reference computes (in the same compute type).
// The nvcc-built kernels and the run-time compiled fused kernels (which get this
// file's text embedded at build time) share these definitions: self-contained
// under NVRTC, and compiled without FMA contraction in both (-fmad=false), so a
// fused chain rounds exactly as the unfused kernels do.
#pragma once

#include "lathe/backend/cuda/device_types.cuh"
#include "lathe/primitives/elementwise_codes.h"

namespace lathe::cuda {

template <typename C>
__device__ __forceinline__ C unary_dev(UnaryOp op, C x) {
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case UnaryOp::negative: return -x;
      case UnaryOp::abs: return fabs(x);
      case UnaryOp::square: return x * x;
      case UnaryOp::sqrt: return sqrt(x);
      case UnaryOp::rsqrt: return C(1) / sqrt(x);
      case UnaryOp::reciprocal: return C(1) / x;
      case UnaryOp::exp: return exp(x);
      case UnaryOp::expm1: return expm1(x);
      case UnaryOp::log: return log(x);
      case UnaryOp::log1p: return log1p(x);
      case UnaryOp::sin: return sin(x);
      case UnaryOp::cos: return cos(x);
      case UnaryOp::tanh: return tanh(x);
      case UnaryOp::erf: return erf(x);
      case UnaryOp::sigmoid: return C(1) / (C(1) + exp(-x));
      case UnaryOp::silu: return x / (C(1) + exp(-x));
      case UnaryOp::relu: return x > C(0) ? x : C(0);
      case UnaryOp::gelu: return C(0.5) * x * (C(1) + erf(x * C(0.70710678118654752440)));
      case UnaryOp::gelu_tanh: {
        const C k = C(0.79788456080286535588);
        return C(0.5) * x * (C(1) + tanh(k * (x + C(0.044715) * x * x * x)));
      }
      case UnaryOp::floor: return floor(x);
      case UnaryOp::ceil: return ceil(x);
      case UnaryOp::round: return rint(x);
      case UnaryOp::sign: return x > C(0) ? C(1) : (x < C(0) ? C(-1) : x);
      case UnaryOp::logical_not: return x == C(0) ? C(1) : C(0);
      default: return x;
    }
  } else {
    switch (op) {
      case UnaryOp::negative: return static_cast<C>(-x);
      case UnaryOp::abs:
        if constexpr (std::is_signed_v<C>) return static_cast<C>(x < 0 ? -x : x);
        return x;
      case UnaryOp::square: return static_cast<C>(x * x);
      case UnaryOp::relu: return x > C(0) ? x : C(0);
      case UnaryOp::sign: return static_cast<C>(x > C(0) ? 1 : (x < C(0) ? -1 : 0));
      case UnaryOp::logical_not: return static_cast<C>(x == C(0));
      case UnaryOp::bitwise_not:
        if constexpr (std::is_same_v<C, bool>) {
          return !x;
        } else {
          return static_cast<C>(~x);
        }
      default: return x;
    }
  }
}

template <typename C>
__device__ __forceinline__ C floor_mod_dev(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = fmod(a, b);
    if (r != C(0) && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    if (b == 0) return 0;
    C r = static_cast<C>(a % b);
    if constexpr (std::is_signed_v<C>) {
      if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<C>(r + b);
    }
    return r;
  }
}

template <typename C>
__device__ __forceinline__ C floor_div_dev(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    return floor(a / b);
  } else {
    if (b == 0) return 0;
    C q = static_cast<C>(a / b);
    if constexpr (std::is_signed_v<C>) {
      if ((a % b != 0) && ((a < 0) != (b < 0))) q = static_cast<C>(q - 1);
    }
    return q;
  }
}

template <typename C>
__device__ __forceinline__ C int_power_dev(C base, C e) {
  if constexpr (std::is_signed_v<C>) {
    if (e < 0) return base == 1 ? 1 : (base == -1 ? (e % 2 ? -1 : 1) : 0);
  }
  C r = 1;
  while (e) {
    if (e & 1) r = static_cast<C>(r * base);
    base = static_cast<C>(base * base);
    e = static_cast<C>(e >> 1);
  }
  return r;
}

// Arithmetic in the compute type C; comparisons return 0/1 as C.
template <typename C>
__device__ __forceinline__ C binary_dev(BinaryOp op, C a, C b) {
  switch (op) {
    case BinaryOp::add: return static_cast<C>(a + b);
    case BinaryOp::subtract: return static_cast<C>(a - b);
    case BinaryOp::multiply: return static_cast<C>(a * b);
    case BinaryOp::divide:
      if constexpr (std::is_floating_point_v<C>) return a / b;
      return b == 0 ? C(0) : static_cast<C>(a / b);
    case BinaryOp::power:
      if constexpr (std::is_floating_point_v<C>)
        return pow(a, b);
      else if constexpr (std::is_same_v<C, bool>)
        return a || !b;
      else
        return int_power_dev(a, b);
    case BinaryOp::maximum:
      if constexpr (std::is_floating_point_v<C>) {
        if (isnan(a) || isnan(b)) return a + b;
      }
      return a > b ? a : b;
    case BinaryOp::minimum:
      if constexpr (std::is_floating_point_v<C>) {
        if (isnan(a) || isnan(b)) return a + b;
      }
      return a < b ? a : b;
    case BinaryOp::floor_divide:
      if constexpr (std::is_same_v<C, bool>)
        return a;
      else
        return floor_div_dev(a, b);
    case BinaryOp::remainder:
      if constexpr (std::is_same_v<C, bool>)
        return false;
      else
        return floor_mod_dev(a, b);
    case BinaryOp::arctan2:
      if constexpr (std::is_floating_point_v<C>) return atan2(a, b);
      return a;
    case BinaryOp::equal: return a == b;
    case BinaryOp::not_equal: return a != b;
    case BinaryOp::less: return a < b;
    case BinaryOp::less_equal: return a <= b;
    case BinaryOp::greater: return a > b;
    case BinaryOp::greater_equal: return a >= b;
    case BinaryOp::logical_and: return (a != C(0)) && (b != C(0));
    case BinaryOp::logical_or: return (a != C(0)) || (b != C(0));
    default: break;
  }
  if constexpr (std::is_integral_v<C>) {
    switch (op) {
      case BinaryOp::bitwise_and: return static_cast<C>(a & b);
      case BinaryOp::bitwise_or: return static_cast<C>(a | b);
      case BinaryOp::bitwise_xor: return static_cast<C>(a ^ b);
      case BinaryOp::left_shift:
        if constexpr (std::is_same_v<C, bool>)
          return a;
        else
          return (b < 0 || b >= C(sizeof(C) * 8)) ? C(0) : static_cast<C>(a << b);
      case BinaryOp::right_shift:
        if constexpr (std::is_same_v<C, bool>)
          return a;
        else
          return (b < 0 || b >= C(sizeof(C) * 8)) ? C(a < 0 ? -1 : 0) : static_cast<C>(a >> b);
      default: break;
    }
  }
  return a;
}

}  // namespace lathe::cuda
