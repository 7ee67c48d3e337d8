// Elementwise ops with numpy broadcasting and type promotion.
#pragma once

#include "lathe/core/array.h"

namespace lathe {

Array negative(const Array& a);
Array abs(const Array& a);
Array square(const Array& a);
Array sqrt(const Array& a);
Array rsqrt(const Array& a);
Array reciprocal(const Array& a);
Array exp(const Array& a);
Array expm1(const Array& a);
Array log(const Array& a);
Array log1p(const Array& a);
Array sin(const Array& a);
Array cos(const Array& a);
Array tanh(const Array& a);
Array erf(const Array& a);
Array sigmoid(const Array& a);
Array silu(const Array& a);
Array relu(const Array& a);
// gelu(x) = x * Phi(x) (erf form); gelu_tanh is the tanh approximation.
Array gelu(const Array& a);
Array gelu_tanh(const Array& a);
Array floor(const Array& a);
Array ceil(const Array& a);
Array round(const Array& a);  // half to even
Array sign(const Array& a);
Array logical_not(const Array& a);
Array bitwise_not(const Array& a);

Array add(const Array& a, const Array& b);
Array subtract(const Array& a, const Array& b);
Array multiply(const Array& a, const Array& b);
Array divide(const Array& a, const Array& b);  // integers divide to float32
Array power(const Array& a, const Array& b);
Array maximum(const Array& a, const Array& b);
Array minimum(const Array& a, const Array& b);
Array floor_divide(const Array& a, const Array& b);
Array remainder(const Array& a, const Array& b);  // sign of the divisor, as Python
Array arctan2(const Array& a, const Array& b);
Array equal(const Array& a, const Array& b);
Array not_equal(const Array& a, const Array& b);
Array less(const Array& a, const Array& b);
Array less_equal(const Array& a, const Array& b);
Array greater(const Array& a, const Array& b);
Array greater_equal(const Array& a, const Array& b);
Array logical_and(const Array& a, const Array& b);
Array logical_or(const Array& a, const Array& b);
Array bitwise_and(const Array& a, const Array& b);
Array bitwise_or(const Array& a, const Array& b);
Array bitwise_xor(const Array& a, const Array& b);
Array left_shift(const Array& a, const Array& b);
Array right_shift(const Array& a, const Array& b);

Array where(const Array& cond, const Array& a, const Array& b);
Array clip(const Array& a, const Array& lo, const Array& hi);
Array astype(const Array& a, Dtype dtype);
// Reinterprets the bytes as another dtype; the last axis scales by the size ratio.
Array bitcast(const Array& a, Dtype dtype);

Array operator-(const Array& a);
Array operator+(const Array& a, const Array& b);
Array operator-(const Array& a, const Array& b);
Array operator*(const Array& a, const Array& b);
Array operator/(const Array& a, const Array& b);
Array operator%(const Array& a, const Array& b);
Array operator==(const Array& a, const Array& b);
Array operator!=(const Array& a, const Array& b);
Array operator<(const Array& a, const Array& b);
Array operator<=(const Array& a, const Array& b);
Array operator>(const Array& a, const Array& b);
Array operator>=(const Array& a, const Array& b);
Array operator&&(const Array& a, const Array& b);
Array operator||(const Array& a, const Array& b);
Array operator!(const Array& a);
Array operator&(const Array& a, const Array& b);
Array operator|(const Array& a, const Array& b);
Array operator^(const Array& a, const Array& b);
Array operator<<(const Array& a, const Array& b);
Array operator>>(const Array& a, const Array& b);

}  // namespace lathe
