// Walking strided operands on the CPU: dimensions are collapsed where the
// operands are jointly contiguous, the innermost loop runs with fixed strides.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "lathe/core/array.h"

namespace lathe::cpu {

// Shape and per-operand strides after merging dimensions that are contiguous
// in every operand. Size-1 dimensions are dropped.
template <size_t N>
struct Collapsed {
  std::vector<int64_t> shape;
  std::array<std::vector<int64_t>, N> strides;
};

template <size_t N>
Collapsed<N> collapse(const Shape& shape, const std::array<const Strides*, N>& strides) {
  Collapsed<N> c;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !c.shape.empty();
    for (size_t k = 0; k < N && merge; ++k) {
      merge = c.strides[k].back() == (*strides[k])[d] * shape[d];
    }
    if (merge) {
      c.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) c.strides[k].back() = (*strides[k])[d];
    } else {
      c.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) c.strides[k].push_back((*strides[k])[d]);
    }
  }
  if (c.shape.empty()) {
    c.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) c.strides[k].push_back(0);
  }
  return c;
}

// Calls inner(offsets, n, inner_strides) for each innermost row: offsets are
// element offsets of each operand at the row start; the row has n elements.
template <size_t N, typename F>
void for_each_row(const Shape& shape, const std::array<const Strides*, N>& strides, F&& inner) {
  for (auto d : shape) {
    if (d == 0) return;
  }
  Collapsed<N> c = collapse<N>(shape, strides);
  const int nd = static_cast<int>(c.shape.size());
  const int64_t n = c.shape[nd - 1];
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = c.strides[k][nd - 1];
  std::array<int64_t, N> off{};
  std::vector<int64_t> idx(nd, 0);
  while (true) {
    inner(off, n, inner_strides);
    int d = nd - 2;
    for (; d >= 0; --d) {
      if (++idx[d] < c.shape[d]) {
        for (size_t k = 0; k < N; ++k) off[k] += c.strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) off[k] -= c.strides[k][d] * (c.shape[d] - 1);
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// Strides that view node `in` (with its strides) as `shape`, if possible
// without copying (shared by every backend's reshape).
bool reshape_strides(const detail::Node& in, const Shape& shape, Strides& out);

// Copies a strided node's elements into dst, row-major, same dtype.
void gather_contiguous(const detail::Node& src, void* dst);

}  // namespace lathe::cpu
