// Walking an array line by line along one axis, for kernels that need a whole
// axis at once (arg-reductions, scans, softmax, sort).
#pragma once

#include <cstdint>

#include "lathe/backend/cpu/strided.h"

namespace lathe::cpu {

// Calls f(in_offset, out_offset) (in elements) at the start of every line
// along `axis`. in_strides and out_strides cover all of in_shape's dims; the
// entries at `axis` are not used.
template <typename F>
void for_each_line(const Shape& in_shape, const Strides& in_strides, const Strides& out_strides,
                   int axis, F&& f) {
  Shape shape;
  Strides is, os;
  for (int d = 0; d < static_cast<int>(in_shape.size()); ++d) {
    if (d == axis) continue;
    shape.push_back(in_shape[d]);
    is.push_back(in_strides[d]);
    os.push_back(out_strides[d]);
  }
  for_each_row<2>(shape, {&is, &os}, [&](auto off, int64_t n, auto st) {
    for (int64_t i = 0; i < n; ++i) f(off[0] + i * st[0], off[1] + i * st[1]);
  });
}

}  // namespace lathe::cpu
