#include "lathe/ops/shape.h"

#include <algorithm>
#include <memory>
#include <numeric>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/shape.h"
#include "lathe/primitives/shape_copy.h"

namespace lathe {

namespace {

// A view (transpose, slice) of an array that is computed and kept, a weight say, is made at
// once: it is metadata only, and a decode step's W^T would otherwise be one more node for the
// scheduler to walk at every step. Anything else stays lazy.
Array view(Shape shape, const Array& a, std::shared_ptr<Primitive> prim) {
  Array out(std::move(shape), a.dtype(), prim, {a});
  detail::Node& in = a.node();
  if (in.status.load() != detail::Status::available || !in.kept.load() || !in.buffer ||
      in.freed.load()) {
    return out;
  }
  detail::Node& n = out.node();
  prim->eval_cpu({&in}, n);  // a view: shares in's buffer on any device
  n.status.store(detail::Status::available);
  n.detach();
  return out;
}

}  // namespace

Array reshape(const Array& a, Shape shape) {
  a.check_valid("reshape");
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) op_error("reshape", "only one dimension can be -1 in " + shape_str(shape));
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      op_error("reshape", "negative dimension in " + shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  int64_t total = static_cast<int64_t>(a.size());
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      op_error("reshape", "cannot reshape array of shape " + shape_str(a.shape()) + " into " +
                              shape_str(shape));
    }
    shape[infer] = total / known;
  } else if (known != total) {
    op_error("reshape", "cannot reshape array of shape " + shape_str(a.shape()) + " (" +
                            std::to_string(total) + " elements) into " + shape_str(shape));
  }
  if (shape == a.shape()) return a;
  return Array(std::move(shape), a.dtype(), std::make_shared<Reshape>(), {a});
}

Array flatten(const Array& a, int start_axis, int end_axis) {
  int nd = a.ndim();
  if (nd == 0) return reshape(a, {1});
  int s = normalize_axis("flatten", start_axis, nd);
  int e = normalize_axis("flatten", end_axis, nd);
  if (s > e) op_error("flatten", "start_axis must not come after end_axis");
  Shape out(a.shape().begin(), a.shape().begin() + s);
  int64_t m = 1;
  for (int i = s; i <= e; ++i) m *= a.shape()[i];
  out.push_back(m);
  out.insert(out.end(), a.shape().begin() + e + 1, a.shape().end());
  return reshape(a, std::move(out));
}

Array transpose(const Array& a, std::vector<int> axes) {
  a.check_valid("transpose");
  int nd = a.ndim();
  if (axes.empty()) {
    axes.resize(nd);
    std::iota(axes.rbegin(), axes.rend(), 0);
  }
  if (static_cast<int>(axes.size()) != nd) {
    op_error("transpose", std::to_string(axes.size()) + " axes given for an array of " +
                              std::to_string(nd) + " dimensions");
  }
  std::vector<bool> seen(nd, false);
  Shape shape(nd);
  bool identity = true;
  for (int i = 0; i < nd; ++i) {
    int ax = normalize_axis("transpose", axes[i], nd);
    if (seen[ax]) op_error("transpose", "repeated axis " + std::to_string(axes[i]));
    seen[ax] = true;
    axes[i] = ax;
    shape[i] = a.shape()[ax];
    identity = identity && ax == i;
  }
  if (identity) return a;
  return view(std::move(shape), a, std::make_shared<Transpose>(std::move(axes)));
}

Array swapaxes(const Array& a, int axis1, int axis2) {
  int nd = a.ndim();
  std::vector<int> axes(nd);
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[normalize_axis("swapaxes", axis1, nd)],
            axes[normalize_axis("swapaxes", axis2, nd)]);
  return transpose(a, std::move(axes));
}

Array moveaxis(const Array& a, int source, int destination) {
  int nd = a.ndim();
  int s = normalize_axis("moveaxis", source, nd);
  int d = normalize_axis("moveaxis", destination, nd);
  std::vector<int> axes;
  for (int i = 0; i < nd; ++i) {
    if (i != s) axes.push_back(i);
  }
  axes.insert(axes.begin() + d, s);
  return transpose(a, std::move(axes));
}

Array expand_dims(const Array& a, std::vector<int> axes) {
  int out_nd = a.ndim() + static_cast<int>(axes.size());
  auto ax = normalize_axes("expand_dims", axes, out_nd, false);
  Shape shape;
  size_t k = 0, j = 0;
  for (int i = 0; i < out_nd; ++i) {
    if (k < ax.size() && ax[k] == i) {
      shape.push_back(1);
      ++k;
    } else {
      shape.push_back(a.shape()[j++]);
    }
  }
  return reshape(a, std::move(shape));
}

Array expand_dims(const Array& a, int axis) { return expand_dims(a, std::vector<int>{axis}); }

Array squeeze(const Array& a, std::vector<int> axes) {
  int nd = a.ndim();
  Shape shape;
  if (axes.empty()) {
    for (auto d : a.shape()) {
      if (d != 1) shape.push_back(d);
    }
  } else {
    auto ax = normalize_axes("squeeze", axes, nd, false);
    size_t k = 0;
    for (int i = 0; i < nd; ++i) {
      if (k < ax.size() && ax[k] == i) {
        if (a.shape()[i] != 1) {
          op_error("squeeze", "axis " + std::to_string(i) + " has size " +
                                  std::to_string(a.shape()[i]) + ", not 1");
        }
        ++k;
      } else {
        shape.push_back(a.shape()[i]);
      }
    }
  }
  return reshape(a, std::move(shape));
}

Array broadcast_to(const Array& a, Shape shape) {
  a.check_valid("broadcast_to");
  if (a.shape() == shape) return a;
  Shape b = broadcast_shapes("broadcast_to", a.shape(), shape);
  if (b != shape) {
    op_error("broadcast_to",
             "cannot broadcast " + shape_str(a.shape()) + " to " + shape_str(shape));
  }
  return Array(std::move(shape), a.dtype(), std::make_shared<Broadcast>(), {a});
}

namespace {

// A slice normalized numpy-style: first element, step and extent per axis.
struct SliceRegion {
  Shape start, steps, shape;
  bool identity = true;  // the whole array, in order
};

SliceRegion normalize_slice(const char* op, const Shape& in, const Shape& start, const Shape& stop,
                            const Shape& steps) {
  const int nd = static_cast<int>(in.size());
  if (static_cast<int>(start.size()) > nd || static_cast<int>(stop.size()) > nd ||
      static_cast<int>(steps.size()) > nd) {
    op_error(op, "more indices than the " + std::to_string(nd) + " dimensions of " + shape_str(in));
  }
  SliceRegion r{Shape(nd), Shape(nd), Shape(nd)};
  for (int i = 0; i < nd; ++i) {
    int64_t n = in[i];
    int64_t step = i < static_cast<int>(steps.size()) ? steps[i] : 1;
    if (step == 0) op_error(op, "step of axis " + std::to_string(i) + " is zero");
    int64_t b, e;
    if (step > 0) {
      b = i < static_cast<int>(start.size()) ? start[i] : 0;
      e = i < static_cast<int>(stop.size()) ? stop[i] : n;
      if (b < 0) b += n;
      if (e < 0) e += n;
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      r.shape[i] = e > b ? (e - b + step - 1) / step : 0;
    } else {
      b = i < static_cast<int>(start.size()) ? start[i] : n - 1;
      e = i < static_cast<int>(stop.size()) ? stop[i] : -n - 1;
      if (b < 0) b += n;
      if (e < -1) e += n;
      b = std::clamp<int64_t>(b, -1, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      r.shape[i] = b > e ? (b - e + (-step) - 1) / (-step) : 0;
    }
    r.start[i] = r.shape[i] > 0 ? b : 0;
    r.steps[i] = step;
    r.identity = r.identity && r.start[i] == 0 && step == 1 && r.shape[i] == n;
  }
  return r;
}

}  // namespace

Array slice(const Array& a, Shape start, Shape stop, Shape steps) {
  a.check_valid("slice");
  SliceRegion r = normalize_slice("slice", a.shape(), start, stop, steps);
  if (r.identity) return a;
  return view(std::move(r.shape), a, std::make_shared<Slice>(std::move(r.start), std::move(r.steps)));
}

Array slice_update(const Array& a, const Array& update, Shape start, Shape stop, Shape steps) {
  a.check_valid("slice_update");
  update.check_valid("slice_update");
  SliceRegion r = normalize_slice("slice_update", a.shape(), start, stop, steps);
  if (broadcast_shapes("slice_update", update.shape(), r.shape) != r.shape) {
    op_error("slice_update", "an update of shape " + shape_str(update.shape()) +
                                 " cannot be broadcast to the region of shape " +
                                 shape_str(r.shape));
  }
  if (shape_size(r.shape) == 0) return a;
  Array u = broadcast_to(astype(update, a.dtype()), r.shape);
  return Array(a.shape(), a.dtype(),
               std::make_shared<SliceUpdate>(std::move(r.start), std::move(r.steps)), {a, u});
}

Array slice_axis(const Array& a, int axis, int64_t start, int64_t stop, int64_t step) {
  int nd = a.ndim();
  int ax = normalize_axis("slice", axis, nd);
  Shape b(nd, 0), e(a.shape()), s(nd, 1);
  if (step < 0) {
    for (int i = 0; i < nd; ++i) {
      if (i != ax) {
        b[i] = 0;
        e[i] = a.shape()[i];
      }
    }
  }
  b[ax] = start;
  e[ax] = stop;
  s[ax] = step;
  return slice(a, b, e, s);
}

Array as_strided(const Array& a, Shape shape, Strides strides, int64_t offset) {
  a.check_valid("as_strided");
  if (shape.size() != strides.size()) {
    op_error("as_strided", "shape " + shape_str(shape) + " and strides " + shape_str(strides) +
                               " differ in length");
  }
  // Every element of the view must lie inside a's data.
  int64_t lo = offset, hi = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) op_error("as_strided", "negative dimension in " + shape_str(shape));
    if (shape[i] == 0) {
      lo = 0;
      hi = 0;
      break;
    }
    int64_t span = strides[i] * (shape[i] - 1);
    (span < 0 ? lo : hi) += span;
  }
  if (lo < 0 || hi >= static_cast<int64_t>(std::max<size_t>(a.size(), 1))) {
    op_error("as_strided",
             "the view reaches outside the " + std::to_string(a.size()) + " elements of the array");
  }
  return Array(std::move(shape), a.dtype(), std::make_shared<AsStrided>(std::move(strides), offset),
               {contiguous(a)});
}

Array bitcast(const Array& a, Dtype dtype) {
  a.check_valid("bitcast");
  size_t from = a.dtype().size(), to = dtype.size();
  if (from == to) {
    if (a.dtype() == dtype) return a;
    return Array(a.shape(), dtype, std::make_shared<BitCast>(), {a});
  }
  if (a.ndim() == 0) op_error("bitcast", "cannot change the item size of a 0-d array");
  Shape shape = a.shape();
  int64_t bytes = shape.back() * static_cast<int64_t>(from);
  if (bytes % static_cast<int64_t>(to) != 0) {
    op_error("bitcast", "the last axis holds " + std::to_string(bytes) +
                            " bytes, not a multiple of " + std::to_string(to) + " (" +
                            dtype.name() + ")");
  }
  shape.back() = bytes / static_cast<int64_t>(to);
  return Array(std::move(shape), dtype, std::make_shared<BitCast>(), {a});
}

Array contiguous(const Array& a) {
  a.check_valid("contiguous");
  return Array(a.shape(), a.dtype(), std::make_shared<Contiguous>(), {a});
}

}  // namespace lathe
