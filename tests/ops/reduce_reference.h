// Float64 reference loops shared by the reduction-family tests: grouping the
// elements of a Host by output position for a reduction or along one axis.
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "support/harness.h"

namespace lathe::testing {

inline std::string axes_str(const std::vector<int>& axes) {
  std::string s = "[";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + "]";
}

// Sorted non-negative axes; empty means every axis.
inline std::vector<int> ref_axes(const std::vector<int>& axes, int ndim) {
  std::vector<int> out;
  if (axes.empty()) {
    for (int d = 0; d < ndim; ++d) out.push_back(d);
  }
  for (int a : axes) out.push_back(a < 0 ? a + ndim : a);
  std::sort(out.begin(), out.end());
  return out;
}

// Applies f to the values reduced into each output element (in row-major order).
inline Host reference_reduce(const Host& x, const std::vector<int>& axes_in, bool keepdims,
                             const std::function<double(const std::vector<double>&)>& f) {
  const int nd = static_cast<int>(x.shape.size());
  std::vector<int> axes = ref_axes(axes_in, nd);
  auto reduced = [&](int d) { return std::binary_search(axes.begin(), axes.end(), d); };
  Shape out_shape, kept_shape;
  for (int d = 0; d < nd; ++d) {
    kept_shape.push_back(reduced(d) ? 1 : x.shape[d]);
    if (!reduced(d) || keepdims) out_shape.push_back(kept_shape.back());
  }
  std::vector<std::vector<double>> groups(shape_size(kept_shape));
  Strides xs = row_strides(x.shape), ks = row_strides(kept_shape);
  for (size_t i = 0; i < x.size(); ++i) {
    size_t o = 0;
    for (int d = 0; d < nd; ++d) {
      int64_t coord = (static_cast<int64_t>(i) / xs[d]) % x.shape[d];
      if (!reduced(d)) o += coord * ks[d];
    }
    groups[o].push_back(x[i]);
  }
  Host r{out_shape, std::vector<double>(groups.size())};
  for (size_t o = 0; o < groups.size(); ++o) r[o] = f(groups[o]);
  return r;
}

// Calls f(line, out_index) for each line along axis; line holds the values in
// order, out_index(k) is the flat index of the line's k-th element.
inline void reference_lines(const Shape& shape, int axis,
                            const std::function<void(const std::vector<size_t>& flat_indices)>& f) {
  const int nd = static_cast<int>(shape.size());
  if (axis < 0) axis += nd;
  Strides st = row_strides(shape);
  size_t total = shape_size(shape);
  for (size_t i = 0; i < total; ++i) {
    int64_t coord = (static_cast<int64_t>(i) / st[axis]) % shape[axis];
    if (coord != 0) continue;
    std::vector<size_t> idx;
    for (int64_t k = 0; k < shape[axis]; ++k) idx.push_back(i + k * st[axis]);
    f(idx);
  }
}

}  // namespace lathe::testing
