// Small helpers every op constructor uses: axis normalization, broadcasting
// shapes, and the "[op] ..." error format.
#pragma once

#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// Throws lathe::Error("[op] msg").
[[noreturn]] void op_error(const char* op, const std::string& msg);
// Maps a possibly negative axis into [0, ndim); throws naming op.
int normalize_axis(const char* op, int axis, int ndim);
// Sorted, unique, normalized axes; empty input means all axes.
std::vector<int> normalize_axes(const char* op, const std::vector<int>& axes, int ndim,
                                bool empty_means_all = true);
// The broadcast of two shapes, numpy rules; throws naming op and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// The result dtype of a binary op, honouring weak C++ scalars.
Dtype result_type(const Array& a, const Array& b);
// Throws if the array is freed or its dtype is not floating.
void require_floating(const char* op, const Array& a);

}  // namespace lathe
