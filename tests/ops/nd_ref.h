// Coordinate helpers for the reference loops of the shape and indexing tests:
// the references walk N-d coordinates over row-major float64 hosts.
#pragma once

#include <functional>
#include <vector>

#include "support/harness.h"

namespace lathe::testing {

using Coord = std::vector<int64_t>;

// Calls f(coord) for every coordinate of shape, row-major order.
inline void for_each_coord(const Shape& shape, const std::function<void(const Coord&)>& f) {
  for (auto d : shape) {
    if (d == 0) return;
  }
  Coord c(shape.size(), 0);
  while (true) {
    f(c);
    int d = static_cast<int>(shape.size()) - 1;
    for (; d >= 0; --d) {
      if (++c[d] < shape[d]) break;
      c[d] = 0;
    }
    if (d < 0) return;
  }
}

inline size_t flat_index(const Shape& shape, const Coord& c) {
  size_t i = 0;
  for (size_t d = 0; d < shape.size(); ++d) i = i * shape[d] + c[d];
  return i;
}

inline double at(const Host& h, const Coord& c) { return h[flat_index(h.shape, c)]; }

// A host of `shape` whose element at each coordinate is f(coord).
inline Host build(const Shape& shape, const std::function<double(const Coord&)>& f) {
  Host h{shape, std::vector<double>(shape_size(shape))};
  for_each_coord(shape, [&](const Coord& c) { h[flat_index(shape, c)] = f(c); });
  return h;
}

// Expects `expr` to throw lathe::Error whose message starts with "[op]".
#define EXPECT_OP_ERROR(op, expr)                                                               \
  do {                                                                                          \
    try {                                                                                       \
      (void)(expr);                                                                             \
      ADD_FAILURE() << #expr << " did not throw";                                               \
    } catch (const ::lathe::Error& e) {                                                         \
      EXPECT_EQ(std::string(e.what()).rfind(std::string("[") + (op) + "]", 0), 0u) << e.what(); \
    }                                                                                           \
  } while (0)

}  // namespace lathe::testing
