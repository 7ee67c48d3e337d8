// Host-callable GPU copies shared by the CUDA kernels of several families
// (plain C++ so that .cpp files of the backend can use them).
#pragma once

#include "lathe/core/array.h"

namespace lathe::cuda {

// Writes src's elements row-major into dst (same dtype) on the current stream.
void copy_to_contiguous(const detail::Node& src, void* dst);
// Copies src into the region of dst_base (same dtype) with the given element
// strides over src's shape.
void copy_strided(const detail::Node& src, void* dst_base, const Strides& dst_strides);
// out (allocated, row-major) = src broadcast to out's shape and converted to its dtype.
void convert_broadcast(const detail::Node& src, detail::Node& out);
// out (allocated, row-major) = x padded by repeating its edge values; low[d]
// elements come before x on axis d. x must not be empty.
void pad_edge(const detail::Node& x, detail::Node& out, const Shape& low);
// Fills out (allocated, row-major) with value converted to its dtype.
void fill(detail::Node& out, double value);
// out (row-major, floating) *= factor.
void scale(detail::Node& out, double factor);

}  // namespace lathe::cuda
