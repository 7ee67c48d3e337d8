// Shape ops. reshape, transpose, slice, broadcast_to, expand_dims, squeeze and
// as_strided are views of the input's data where the layout allows.
#pragma once

#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// One dimension may be -1 (inferred).
Array reshape(const Array& a, Shape shape);
Array flatten(const Array& a, int start_axis = 0, int end_axis = -1);
// Reverses the axes when `axes` is empty.
Array transpose(const Array& a, std::vector<int> axes = {});
Array swapaxes(const Array& a, int axis1, int axis2);
Array moveaxis(const Array& a, int source, int destination);
Array expand_dims(const Array& a, int axis);
Array expand_dims(const Array& a, std::vector<int> axes);
// Removes the given size-1 axes, or all of them when `axes` is empty.
Array squeeze(const Array& a, std::vector<int> axes = {});
Array broadcast_to(const Array& a, Shape shape);
// Numpy-style slicing: start/stop clamp, negative values count from the end,
// negative steps walk backwards. Missing trailing dims are taken whole.
Array slice(const Array& a, Shape start, Shape stop, Shape steps = {});
// A slice of one axis.
Array slice_axis(const Array& a, int axis, int64_t start, int64_t stop, int64_t step = 1);
// A view with explicit element strides and offset over a's row-major data.
Array as_strided(const Array& a, Shape shape, Strides strides, int64_t offset = 0);
// A row-major copy (the array itself if it already is one).
Array contiguous(const Array& a);

}  // namespace lathe
