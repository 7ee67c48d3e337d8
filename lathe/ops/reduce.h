// Reductions (sum, mean, var, max, min, prod, logsumexp, all, any), arg-reductions,
// cumulative scans and softmax. Result dtypes follow numpy/MLX: sum and prod of
// bool and small ints give int32; mean, var, logsumexp and softmax of ints give
// float32; 16-bit floats accumulate in float32, float64 in float64.
#pragma once

#include <concepts>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// A single axis. The one-axis overloads are templates so that `sum(a, {})`
// means "all axes" (the vector overload) rather than axis 0.
template <typename I>
concept AxisIndex = std::integral<I> && !std::same_as<I, bool>;

// Empty `axes` reduces over every axis. Negative axes count from the end;
// repeated or out-of-range axes throw.
Array sum(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);
Array prod(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);
Array mean(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);
// Divides by (count - ddof), as numpy.
Array var(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false, int ddof = 0);
// max and min propagate NaN and throw on an empty reduction (no identity).
Array max(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);
Array min(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);
Array logsumexp(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);
// Truth of every / any element (non-zero counts as true); bool result.
Array all(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);
Array any(const Array& a, const std::vector<int>& axes = {}, bool keepdims = false);

template <AxisIndex I>
Array sum(const Array& a, I axis, bool keepdims = false) {
  return sum(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}
template <AxisIndex I>
Array prod(const Array& a, I axis, bool keepdims = false) {
  return prod(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}
template <AxisIndex I>
Array mean(const Array& a, I axis, bool keepdims = false) {
  return mean(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}
template <AxisIndex I>
Array var(const Array& a, I axis, bool keepdims = false, int ddof = 0) {
  return var(a, std::vector<int>{static_cast<int>(axis)}, keepdims, ddof);
}
template <AxisIndex I>
Array max(const Array& a, I axis, bool keepdims = false) {
  return max(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}
template <AxisIndex I>
Array min(const Array& a, I axis, bool keepdims = false) {
  return min(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}
template <AxisIndex I>
Array logsumexp(const Array& a, I axis, bool keepdims = false) {
  return logsumexp(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}
template <AxisIndex I>
Array all(const Array& a, I axis, bool keepdims = false) {
  return all(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}
template <AxisIndex I>
Array any(const Array& a, I axis, bool keepdims = false) {
  return any(a, std::vector<int>{static_cast<int>(axis)}, keepdims);
}

// uint32 index of the first maximum / minimum along axis. A NaN counts as the
// extreme for both (numpy): the first NaN's index is returned.
Array argmax(const Array& a, int axis, bool keepdims = false);
Array argmin(const Array& a, int axis, bool keepdims = false);
// Over the flattened array; keepdims gives shape (1, ..., 1).
Array argmax(const Array& a, bool keepdims = false);
Array argmin(const Array& a, bool keepdims = false);

// Running sum / product / maximum / minimum along axis. reverse scans from the
// end; exclusive (inclusive = false) leaves each element out of its own result
// (the first result is the identity). cumsum and cumprod promote as sum.
Array cumsum(const Array& a, int axis, bool reverse = false, bool inclusive = true);
Array cumprod(const Array& a, int axis, bool reverse = false, bool inclusive = true);
Array cummax(const Array& a, int axis, bool reverse = false, bool inclusive = true);
Array cummin(const Array& a, int axis, bool reverse = false, bool inclusive = true);

// exp(a - max) / sum(exp(a - max)) over the axes (empty: every axis; the
// one-argument form: the last axis). Integer inputs give float32. On the CPU
// 16-bit inputs always compute in float32; `precise` is accepted for parity
// with backends that would not.
Array softmax(const Array& a, const std::vector<int>& axes, bool precise = false);
template <AxisIndex I>
Array softmax(const Array& a, I axis, bool precise = false) {
  return softmax(a, std::vector<int>{static_cast<int>(axis)}, precise);
}
inline Array softmax(const Array& a) { return softmax(a, std::vector<int>{-1}); }

}  // namespace lathe
