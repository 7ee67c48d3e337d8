// Shape ops. reshape, transpose, slice, broadcast_to, expand_dims, squeeze,
// as_strided and split are views of the input's data where the layout allows;
// concatenate, stack, slice_update, pad, tile and repeat write new data.
#pragma once

#include <cstdint>
#include <utility>
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

// Joins arrays along an existing axis; dtypes promote as in binary ops.
Array concatenate(const std::vector<Array>& arrays, int axis = 0);
// Joins equally shaped arrays along a new axis.
Array stack(const std::vector<Array>& arrays, int axis = 0);
// Equal parts (the axis size must divide evenly); the parts are views.
std::vector<Array> split(const Array& a, int sections, int axis = 0);
// Parts cut before each index, numpy.split semantics; the parts are views.
std::vector<Array> split(const Array& a, const std::vector<int64_t>& indices, int axis = 0);

// `a` with the region slice(a, start, stop, steps) replaced by `update`
// (cast to a's dtype, broadcast to the region). Works in place when a's buffer
// can be donated (a freed or without other handles, read only by this op), so
// a preallocated KV cache is updated without a copy.
Array slice_update(const Array& a, const Array& update, Shape start, Shape stop, Shape steps = {});

enum class PadMode : uint8_t {
  constant,  // fill with a value
  edge,      // repeat the border element
};
// widths[d] = (before, after) for each axis, or one pair for every axis.
Array pad(const Array& a, const std::vector<std::pair<int64_t, int64_t>>& widths, double value = 0);
Array pad(const Array& a, const std::vector<std::pair<int64_t, int64_t>>& widths, PadMode mode,
          double value = 0);
// numpy.tile: repeats the whole array reps[d] times along each axis.
Array tile(const Array& a, Shape reps);
// numpy.repeat: repeats each element `repeats` times along axis (flattened without axis).
Array repeat(const Array& a, int64_t repeats, int axis);
Array repeat(const Array& a, int64_t repeats);

}  // namespace lathe
