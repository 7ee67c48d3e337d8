// Scalar definitions of the elementwise ops on the CPU, shared by the
// elementwise kernels and by compile's fused loops.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "lathe/primitives/elementwise.h"

namespace lathe::cpu {

template <typename C>
inline C unary_scalar(UnaryOp op, C x) {
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case UnaryOp::negative: return -x;
      case UnaryOp::abs: return std::abs(x);
      case UnaryOp::square: return x * x;
      case UnaryOp::sqrt: return std::sqrt(x);
      case UnaryOp::rsqrt: return C(1) / std::sqrt(x);
      case UnaryOp::reciprocal: return C(1) / x;
      case UnaryOp::exp: return std::exp(x);
      case UnaryOp::expm1: return std::expm1(x);
      case UnaryOp::log: return std::log(x);
      case UnaryOp::log1p: return std::log1p(x);
      case UnaryOp::sin: return std::sin(x);
      case UnaryOp::cos: return std::cos(x);
      case UnaryOp::tanh: return std::tanh(x);
      case UnaryOp::erf: return std::erf(x);
      case UnaryOp::sigmoid: return C(1) / (C(1) + std::exp(-x));
      case UnaryOp::silu: return x / (C(1) + std::exp(-x));
      case UnaryOp::relu: return x > C(0) ? x : C(0);
      case UnaryOp::gelu: return C(0.5) * x * (C(1) + std::erf(x * C(0.70710678118654752440)));
      case UnaryOp::gelu_tanh: {
        const C k = C(0.79788456080286535588);  // sqrt(2/pi)
        return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
      }
      case UnaryOp::floor: return std::floor(x);
      case UnaryOp::ceil: return std::ceil(x);
      case UnaryOp::round: return std::nearbyint(x);
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
inline C floor_mod(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = std::fmod(a, b);
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
inline C floor_div(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::floor(a / b);
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
inline C int_power(C base, C e) {
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

// Arithmetic binary ops in the compute type C; comparisons return 0/1 as C.
template <typename C>
inline C binary_scalar(BinaryOp op, C a, C b) {
  switch (op) {
    case BinaryOp::add: return static_cast<C>(a + b);
    case BinaryOp::subtract: return static_cast<C>(a - b);
    case BinaryOp::multiply: return static_cast<C>(a * b);
    case BinaryOp::divide:
      if constexpr (std::is_floating_point_v<C>) return a / b;
      return b == 0 ? C(0) : static_cast<C>(a / b);
    case BinaryOp::power:
      if constexpr (std::is_floating_point_v<C>)
        return std::pow(a, b);
      else if constexpr (std::is_same_v<C, bool>)
        return a || !b;
      else
        return int_power(a, b);
    case BinaryOp::maximum:
      if constexpr (std::is_floating_point_v<C>) {
        if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
      }
      return a > b ? a : b;
    case BinaryOp::minimum:
      if constexpr (std::is_floating_point_v<C>) {
        if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
      }
      return a < b ? a : b;
    case BinaryOp::floor_divide:
      if constexpr (std::is_same_v<C, bool>)
        return a;
      else
        return floor_div(a, b);
    case BinaryOp::remainder:
      if constexpr (std::is_same_v<C, bool>)
        return false;
      else
        return floor_mod(a, b);
    case BinaryOp::arctan2:
      if constexpr (std::is_floating_point_v<C>) return std::atan2(a, b);
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

}  // namespace lathe::cpu
