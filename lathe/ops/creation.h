// Creating arrays: from host data, filled, and ranges.
#pragma once

#include <initializer_list>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// An array holding a copy of `data` (computed at once). Throws if the sizes differ.
Array array_from(const void* data, Dtype src_dtype, Shape shape, Dtype dtype);

template <typename T>
Array array(const std::vector<T>& data, Shape shape) {
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> b(data.begin(), data.end());
    return array_from(b.data(), bool_, std::move(shape), bool_);
  } else {
    if (data.size() != shape_size(shape)) {
      throw Error("[array] " + std::to_string(data.size()) + " values do not fill shape " +
                  shape_str(shape));
    }
    return array_from(data.data(), dtype_of<T>::value, std::move(shape), dtype_of<T>::value);
  }
}
template <typename T>
Array array(const std::vector<T>& data) {
  return array(data, Shape{static_cast<int64_t>(data.size())});
}
template <typename T>
Array array(std::initializer_list<T> data, Shape shape) {
  return array(std::vector<T>(data), std::move(shape));
}
template <typename T>
Array array(std::initializer_list<T> data) {
  return array(std::vector<T>(data));
}
// Host data converted to another dtype on creation.
template <typename T>
Array array(const std::vector<T>& data, Shape shape, Dtype dtype) {
  if (data.size() != shape_size(shape)) {
    throw Error("[array] " + std::to_string(data.size()) + " values do not fill shape " +
                shape_str(shape));
  }
  return array_from(data.data(), dtype_of<T>::value, std::move(shape), dtype);
}

Array full(Shape shape, double value, Dtype dtype = float32);
Array full(Shape shape, const Array& value);  // broadcast a (scalar) array
Array zeros(Shape shape, Dtype dtype = float32);
Array ones(Shape shape, Dtype dtype = float32);
Array zeros_like(const Array& a);
Array ones_like(const Array& a);
Array full_like(const Array& a, double value);
// [start, stop) by step.
Array arange(double start, double stop, double step = 1.0, Dtype dtype = int32);
Array arange(int64_t stop, Dtype dtype = int32);
// num evenly spaced values from start to stop inclusive.
Array linspace(double start, double stop, int64_t num, Dtype dtype = float32);
// n x m with ones on diagonal k.
Array eye(int64_t n, int64_t m = -1, int64_t k = 0, Dtype dtype = float32);
// n x m with ones at and below diagonal k.
Array tri(int64_t n, int64_t m = -1, int64_t k = 0, Dtype dtype = float32);
Array tril(const Array& a, int64_t k = 0);
Array triu(const Array& a, int64_t k = 0);

}  // namespace lathe
