// Byte-moving helpers for the data-moving kernels (concatenate, slice_update,
// pad, take, scatter): strided region copies and fills, keyed by element size.
#pragma once

#include <cstddef>

#include "lathe/core/array.h"

namespace lathe::cpu {

// Copies the elements of a region of `shape` from src (element strides ss) to
// dst (element strides ds); elements are es bytes. Pointers address element 0.
void copy_region(const void* src, const Strides& ss, void* dst, const Strides& ds,
                 const Shape& shape, size_t es);

// Writes the es-byte element `value` to n consecutive elements at dst.
void fill_elements(void* dst, const void* value, size_t n, size_t es);

// Makes out a row-major copy of src, reusing src's buffer in place when it is
// donatable (the path that keeps KV-cache updates free of copies).
void copy_or_donate(detail::Node& src, detail::Node& out);

// Address of element `index` (may be negative) from p, for es-byte elements.
inline char* element_at(void* p, int64_t index, size_t es) {
  return static_cast<char*>(p) + index * static_cast<int64_t>(es);
}
inline const char* element_at(const void* p, int64_t index, size_t es) {
  return static_cast<const char*>(p) + index * static_cast<int64_t>(es);
}

}  // namespace lathe::cpu
