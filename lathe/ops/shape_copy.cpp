// Shape ops that write new data: concatenate, stack, split (views), pad, tile
// and repeat. tile and repeat are broadcasts materialized by one reshape copy.
#include "lathe/primitives/shape_copy.h"

#include <limits>
#include <memory>
#include <string>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"

namespace lathe {

Array concatenate(const std::vector<Array>& arrays, int axis) {
  if (arrays.empty()) op_error("concatenate", "needs at least one array");
  for (const auto& x : arrays) x.check_valid("concatenate");
  const Shape& first = arrays[0].shape();
  const int nd = static_cast<int>(first.size());
  if (nd == 0) op_error("concatenate", "zero-dimensional arrays cannot be concatenated");
  const int ax = normalize_axis("concatenate", axis, nd);
  Shape shape = first;
  Dtype dtype = arrays[0].dtype();
  shape[ax] = 0;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const Shape& s = arrays[i].shape();
    bool same = static_cast<int>(s.size()) == nd;
    for (int d = 0; same && d < nd; ++d) same = d == ax || s[d] == first[d];
    if (!same) {
      op_error("concatenate", "array " + std::to_string(i) + " has shape " + shape_str(s) +
                                  ", which does not match " + shape_str(first) + " outside axis " +
                                  std::to_string(ax));
    }
    shape[ax] += s[ax];
    dtype = promote_types(dtype, arrays[i].dtype());
  }
  if (arrays.size() == 1) return astype(arrays[0], dtype);
  std::vector<Array> inputs;
  inputs.reserve(arrays.size());
  for (const auto& x : arrays) inputs.push_back(astype(x, dtype));
  return Array(std::move(shape), dtype, std::make_shared<Concatenate>(ax), std::move(inputs));
}

Array stack(const std::vector<Array>& arrays, int axis) {
  if (arrays.empty()) op_error("stack", "needs at least one array");
  for (const auto& x : arrays) x.check_valid("stack");
  const Shape& first = arrays[0].shape();
  const int ax = normalize_axis("stack", axis, static_cast<int>(first.size()) + 1);
  std::vector<Array> expanded;
  expanded.reserve(arrays.size());
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (arrays[i].shape() != first) {
      op_error("stack", "array " + std::to_string(i) + " has shape " +
                            shape_str(arrays[i].shape()) + ", expected " + shape_str(first));
    }
    expanded.push_back(expand_dims(arrays[i], ax));
  }
  return concatenate(expanded, ax);
}

std::vector<Array> split(const Array& a, int sections, int axis) {
  a.check_valid("split");
  const int ax = normalize_axis("split", axis, a.ndim());
  const int64_t n = a.shape()[ax];
  if (sections <= 0)
    op_error("split", "sections must be positive, got " + std::to_string(sections));
  if (n % sections != 0) {
    op_error("split", "axis " + std::to_string(ax) + " of size " + std::to_string(n) +
                          " does not divide into " + std::to_string(sections) + " equal parts");
  }
  std::vector<int64_t> cuts;
  for (int64_t k = 1; k < sections; ++k) cuts.push_back(k * (n / sections));
  return split(a, cuts, ax);
}

std::vector<Array> split(const Array& a, const std::vector<int64_t>& indices, int axis) {
  a.check_valid("split");
  const int ax = normalize_axis("split", axis, a.ndim());
  const int64_t n = a.shape()[ax];
  std::vector<Array> parts;
  parts.reserve(indices.size() + 1);
  int64_t begin = 0;
  for (size_t k = 0; k <= indices.size(); ++k) {
    int64_t end = k < indices.size() ? indices[k] : n;
    parts.push_back(slice_axis(a, ax, begin, end));
    begin = end;
  }
  return parts;
}

Array pad(const Array& a, const std::vector<std::pair<int64_t, int64_t>>& widths, double value) {
  return pad(a, widths, PadMode::constant, value);
}

Array pad(const Array& a, const std::vector<std::pair<int64_t, int64_t>>& widths, PadMode mode,
          double value) {
  a.check_valid("pad");
  const int nd = a.ndim();
  if (widths.size() != 1 && static_cast<int>(widths.size()) != nd) {
    op_error("pad", std::to_string(widths.size()) + " pad widths given for an array of " +
                        std::to_string(nd) + " dimensions");
  }
  Shape low(nd), shape(nd);
  bool identity = true;
  for (int d = 0; d < nd; ++d) {
    auto [lo, hi] = widths.size() == 1 ? widths[0] : widths[d];
    if (lo < 0 || hi < 0) {
      op_error("pad", "negative pad width (" + std::to_string(lo) + ", " + std::to_string(hi) +
                          ") on axis " + std::to_string(d));
    }
    if (mode == PadMode::edge && a.shape()[d] == 0 && lo + hi > 0) {
      op_error("pad", "edge padding of the empty axis " + std::to_string(d));
    }
    low[d] = lo;
    shape[d] = a.shape()[d] + lo + hi;
    identity = identity && lo == 0 && hi == 0;
  }
  if (mode == PadMode::constant && a.dtype().is_integral()) {
    // Converting an unrepresentable double to an integer is undefined; refuse it here.
    dispatch_dtype(a.dtype(), [&](auto t) {
      using T = decltype(t);
      if (!(value >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
            value < static_cast<double>(std::numeric_limits<T>::max()) + 1.0)) {
        op_error("pad",
                 "the value " + std::to_string(value) + " does not fit in " + a.dtype().name());
      }
    });
  }
  if (identity) return a;
  return Array(std::move(shape), a.dtype(), std::make_shared<Pad>(std::move(low), mode, value),
               {a});
}

Array tile(const Array& a, Shape reps) {
  a.check_valid("tile");
  for (auto r : reps) {
    if (r < 0) op_error("tile", "negative repetition count in " + shape_str(reps));
  }
  Shape dims = a.shape();
  while (dims.size() < reps.size()) dims.insert(dims.begin(), 1);
  while (reps.size() < dims.size()) reps.insert(reps.begin(), 1);
  // (d0, d1, ..) -> (1, d0, 1, d1, ..) -> (r0, d0, r1, d1, ..) -> (r0*d0, r1*d1, ..)
  Shape interleaved, broadcast, out;
  for (size_t i = 0; i < dims.size(); ++i) {
    interleaved.insert(interleaved.end(), {1, dims[i]});
    broadcast.insert(broadcast.end(), {reps[i], dims[i]});
    out.push_back(reps[i] * dims[i]);
  }
  return reshape(broadcast_to(reshape(a, interleaved), broadcast), out);
}

Array repeat(const Array& a, int64_t repeats, int axis) {
  a.check_valid("repeat");
  if (repeats < 0) op_error("repeat", "negative repetition count " + std::to_string(repeats));
  const int ax = normalize_axis("repeat", axis, a.ndim());
  // (.., n, ..) -> (.., n, 1, ..) -> (.., n, repeats, ..) -> (.., n*repeats, ..)
  Shape broadcast = a.shape(), out = a.shape();
  broadcast.insert(broadcast.begin() + ax + 1, repeats);
  out[ax] *= repeats;
  return reshape(broadcast_to(expand_dims(a, ax + 1), broadcast), out);
}

Array repeat(const Array& a, int64_t repeats) { return repeat(flatten(a), repeats, 0); }

}  // namespace lathe
