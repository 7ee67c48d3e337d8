#include "lathe/primitives/elementwise.h"

namespace lathe {

const char* unary_name(UnaryOp op) {
  static const char* names[] = {"negative", "abs",       "square",      "sqrt",  "rsqrt",
                                "exp",      "log",       "log1p",       "sin",   "cos",
                                "tanh",     "erf",       "sigmoid",     "silu",  "relu",
                                "gelu",     "gelu_tanh", "logical_not", "floor", "ceil",
                                "round",    "sign",      "reciprocal",  "expm1", "bitwise_not"};
  return names[static_cast<int>(op)];
}

const char* binary_name(BinaryOp op) {
  static const char* names[] = {
      "add",        "subtract",     "multiply",      "divide",      "power",      "maximum",
      "minimum",    "floor_divide", "remainder",     "equal",       "not_equal",  "less",
      "less_equal", "greater",      "greater_equal", "logical_and", "logical_or", "bitwise_and",
      "bitwise_or", "bitwise_xor",  "left_shift",    "right_shift", "arctan2"};
  return names[static_cast<int>(op)];
}

bool binary_is_comparison(BinaryOp op) {
  return op >= BinaryOp::equal && op <= BinaryOp::greater_equal;
}

}  // namespace lathe
