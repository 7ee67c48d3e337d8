// Helpers shared by the fused-op kernels (norms, rope, attention): reading
// strided rows into a float accumulator type and small parameter vectors.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "lathe/backend/cpu/strided.h"

namespace lathe::cpu {

// Accumulation type of the fused ops: double for float64, float otherwise.
template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// n elements at p with the given element stride, converted to A.
template <typename T, typename A>
inline void load_row(const T* p, int64_t stride, int64_t n, A* dst) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<A>(p[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<A>(p[i * stride]);
  }
}

// A whole (small) node as float64 values, row-major.
inline std::vector<double> load_f64(const detail::Node& n) {
  std::vector<char> tmp(n.nbytes());
  gather_contiguous(n, tmp.data());
  std::vector<double> v(n.size());
  convert_elements(tmp.data(), n.dtype, v.data(), float64, n.size());
  return v;
}

// Calls f(in_offset, out_offset) in elements for every row along the last axis
// of `in`, in row-major order; `out` is row-contiguous with in's shape.
template <typename F>
void for_each_last_axis_row(const detail::Node& in, F&& f) {
  Shape lead(in.shape.begin(), in.shape.end() - 1);
  Strides in_lead(in.strides.begin(), in.strides.end() - 1);
  Strides out_lead = row_strides(in.shape);
  out_lead.pop_back();
  for_each_row<2>(lead, {&in_lead, &out_lead}, [&](auto off, int64_t n, auto st) {
    for (int64_t r = 0; r < n; ++r) f(off[0] + r * st[0], off[1] + r * st[1]);
  });
}

// Calls f(T{}) for the floating-point dtypes; others throw naming op.
template <typename F>
void dispatch_float(Dtype d, const char* op, F&& f) {
  switch (d.val) {
    case Dtype::Val::float16: f(float16_t{}); return;
    case Dtype::Val::bfloat16: f(bfloat16_t{}); return;
    case Dtype::Val::float32: f(float{}); return;
    case Dtype::Val::float64: f(double{}); return;
    default: throw Error(std::string("[") + op + "] not defined for " + d.name());
  }
}

}  // namespace lathe::cpu
