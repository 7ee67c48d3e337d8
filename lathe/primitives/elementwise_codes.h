// The codes of the elementwise ops. Self-contained (no includes): the CUDA
// backend's run-time compiled kernels include it too.
#pragma once

namespace lathe {

enum class UnaryOp {
  negative,
  abs,
  square,
  sqrt,
  rsqrt,
  exp,
  log,
  log1p,
  sin,
  cos,
  tanh,
  erf,
  sigmoid,
  silu,
  relu,
  gelu,
  gelu_tanh,
  logical_not,
  floor,
  ceil,
  round,
  sign,
  reciprocal,
  expm1,
  bitwise_not
};

enum class BinaryOp {
  add,
  subtract,
  multiply,
  divide,
  power,
  maximum,
  minimum,
  floor_divide,
  remainder,
  equal,
  not_equal,
  less,
  less_equal,
  greater,
  greater_equal,
  logical_and,
  logical_or,
  bitwise_and,
  bitwise_or,
  bitwise_xor,
  left_shift,
  right_shift,
  arctan2
};

}  // namespace lathe
