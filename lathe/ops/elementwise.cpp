#include "lathe/ops/elementwise.h"

#include <memory>

#include "lathe/ops/util.h"
#include "lathe/primitives/elementwise.h"

namespace lathe {

namespace {

bool float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::sqrt:
    case UnaryOp::rsqrt:
    case UnaryOp::exp:
    case UnaryOp::log:
    case UnaryOp::log1p:
    case UnaryOp::sin:
    case UnaryOp::cos:
    case UnaryOp::tanh:
    case UnaryOp::erf:
    case UnaryOp::sigmoid:
    case UnaryOp::silu:
    case UnaryOp::gelu:
    case UnaryOp::gelu_tanh:
    case UnaryOp::reciprocal:
    case UnaryOp::expm1: return true;
    default: return false;
  }
}

Array unary(UnaryOp op, const Array& a) {
  const char* name = unary_name(op);
  a.check_valid(name);
  Dtype d = a.dtype();
  if (op == UnaryOp::logical_not) {
    return Array(a.shape(), bool_, std::make_shared<Unary>(op), {a});
  }
  if (op == UnaryOp::bitwise_not) {
    if (d.is_floating())
      op_error(name, std::string("needs an integer or bool array, got ") + d.name());
    return Array(a.shape(), d, std::make_shared<Unary>(op), {a});
  }
  if (float_only(op) && !d.is_floating()) {
    return Array(a.shape(), float32, std::make_shared<Unary>(op), {astype(a, float32)});
  }
  if ((op == UnaryOp::floor || op == UnaryOp::ceil || op == UnaryOp::round) && !d.is_floating()) {
    return a;
  }
  if (d == bool_) {
    if (op == UnaryOp::abs || op == UnaryOp::relu) return a;
    op_error(name, "is not defined for bool arrays");
  }
  return Array(a.shape(), d, std::make_shared<Unary>(op), {a});
}

enum class BinaryKind { arithmetic, true_divide, comparison, logical, bitwise, floating };

BinaryKind kind_of(BinaryOp op) {
  switch (op) {
    case BinaryOp::divide: return BinaryKind::true_divide;
    case BinaryOp::equal:
    case BinaryOp::not_equal:
    case BinaryOp::less:
    case BinaryOp::less_equal:
    case BinaryOp::greater:
    case BinaryOp::greater_equal: return BinaryKind::comparison;
    case BinaryOp::logical_and:
    case BinaryOp::logical_or: return BinaryKind::logical;
    case BinaryOp::bitwise_and:
    case BinaryOp::bitwise_or:
    case BinaryOp::bitwise_xor:
    case BinaryOp::left_shift:
    case BinaryOp::right_shift: return BinaryKind::bitwise;
    case BinaryOp::arctan2: return BinaryKind::floating;
    default: return BinaryKind::arithmetic;
  }
}

Array binary(BinaryOp op, const Array& a, const Array& b) {
  const char* name = binary_name(op);
  a.check_valid(name);
  b.check_valid(name);
  Shape shape = broadcast_shapes(name, a.shape(), b.shape());
  Dtype t = result_type(a, b);
  Dtype out;
  switch (kind_of(op)) {
    case BinaryKind::arithmetic:
      if (t == bool_ && op != BinaryOp::maximum && op != BinaryOp::minimum) t = int32;
      out = t;
      break;
    case BinaryKind::true_divide:
    case BinaryKind::floating:
      if (!t.is_floating()) t = float32;
      out = t;
      break;
    case BinaryKind::comparison: out = bool_; break;
    case BinaryKind::logical:
      t = bool_;
      out = bool_;
      break;
    case BinaryKind::bitwise:
      if (t.is_floating()) {
        op_error(name, std::string("needs integer or bool arrays, got ") + a.dtype().name() +
                           " and " + b.dtype().name());
      }
      out = t;
      break;
  }
  return Array(std::move(shape), out, std::make_shared<Binary>(op), {astype(a, t), astype(b, t)});
}

}  // namespace

#define LATHE_UNARY(fn) \
  Array fn(const Array& a) { return unary(UnaryOp::fn, a); }
LATHE_UNARY(negative)
LATHE_UNARY(abs)
LATHE_UNARY(square)
LATHE_UNARY(sqrt)
LATHE_UNARY(rsqrt)
LATHE_UNARY(reciprocal)
LATHE_UNARY(exp)
LATHE_UNARY(expm1)
LATHE_UNARY(log)
LATHE_UNARY(log1p)
LATHE_UNARY(sin)
LATHE_UNARY(cos)
LATHE_UNARY(tanh)
LATHE_UNARY(erf)
LATHE_UNARY(sigmoid)
LATHE_UNARY(silu)
LATHE_UNARY(relu)
LATHE_UNARY(gelu)
LATHE_UNARY(gelu_tanh)
LATHE_UNARY(floor)
LATHE_UNARY(ceil)
LATHE_UNARY(round)
LATHE_UNARY(sign)
LATHE_UNARY(logical_not)
LATHE_UNARY(bitwise_not)
#undef LATHE_UNARY

#define LATHE_BINARY(fn) \
  Array fn(const Array& a, const Array& b) { return binary(BinaryOp::fn, a, b); }
LATHE_BINARY(add)
LATHE_BINARY(subtract)
LATHE_BINARY(multiply)
LATHE_BINARY(divide)
LATHE_BINARY(power)
LATHE_BINARY(maximum)
LATHE_BINARY(minimum)
LATHE_BINARY(floor_divide)
LATHE_BINARY(remainder)
LATHE_BINARY(arctan2)
LATHE_BINARY(equal)
LATHE_BINARY(not_equal)
LATHE_BINARY(less)
LATHE_BINARY(less_equal)
LATHE_BINARY(greater)
LATHE_BINARY(greater_equal)
LATHE_BINARY(logical_and)
LATHE_BINARY(logical_or)
LATHE_BINARY(bitwise_and)
LATHE_BINARY(bitwise_or)
LATHE_BINARY(bitwise_xor)
LATHE_BINARY(left_shift)
LATHE_BINARY(right_shift)
#undef LATHE_BINARY

Array where(const Array& cond, const Array& a, const Array& b) {
  cond.check_valid("where");
  Shape s =
      broadcast_shapes("where", broadcast_shapes("where", cond.shape(), a.shape()), b.shape());
  Dtype t = result_type(a, b);
  return Array(std::move(s), t, std::make_shared<Select>(),
               {astype(cond, bool_), astype(a, t), astype(b, t)});
}

Array clip(const Array& a, const Array& lo, const Array& hi) { return minimum(maximum(a, lo), hi); }

Array astype(const Array& a, Dtype dtype) {
  a.check_valid("astype");
  if (a.dtype() == dtype) return a;
  return Array(a.shape(), dtype, std::make_shared<AsType>(), {a});
}

Array operator-(const Array& a) { return negative(a); }
Array operator+(const Array& a, const Array& b) { return add(a, b); }
Array operator-(const Array& a, const Array& b) { return subtract(a, b); }
Array operator*(const Array& a, const Array& b) { return multiply(a, b); }
Array operator/(const Array& a, const Array& b) { return divide(a, b); }
Array operator%(const Array& a, const Array& b) { return remainder(a, b); }
Array operator==(const Array& a, const Array& b) { return equal(a, b); }
Array operator!=(const Array& a, const Array& b) { return not_equal(a, b); }
Array operator<(const Array& a, const Array& b) { return less(a, b); }
Array operator<=(const Array& a, const Array& b) { return less_equal(a, b); }
Array operator>(const Array& a, const Array& b) { return greater(a, b); }
Array operator>=(const Array& a, const Array& b) { return greater_equal(a, b); }
Array operator&&(const Array& a, const Array& b) { return logical_and(a, b); }
Array operator||(const Array& a, const Array& b) { return logical_or(a, b); }
Array operator!(const Array& a) { return logical_not(a); }
Array operator&(const Array& a, const Array& b) { return bitwise_and(a, b); }
Array operator|(const Array& a, const Array& b) { return bitwise_or(a, b); }
Array operator^(const Array& a, const Array& b) { return bitwise_xor(a, b); }
Array operator<<(const Array& a, const Array& b) { return left_shift(a, b); }
Array operator>>(const Array& a, const Array& b) { return right_shift(a, b); }

}  // namespace lathe
