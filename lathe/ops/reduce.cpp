// Op constructors of the reduction family: validate axes, pick the result
// dtype, convert inputs to what the kernels read, record a node.
#include "lathe/ops/reduce.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/reduce.h"

namespace lathe {

namespace {

std::string axes_str(const std::vector<int>& axes) {
  std::string s = "[";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + "]";
}

// Sorted, normalized axes (empty means all); names a repeated axis.
std::vector<int> reduction_axes(const char* op, const std::vector<int>& axes, int ndim) {
  std::vector<int> out;
  if (axes.empty()) {
    for (int d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int a : axes) {
    int n = normalize_axis(op, a, ndim);
    if (std::find(out.begin(), out.end(), n) != out.end()) {
      op_error(op, "repeated axis " + std::to_string(a) + " in " + axes_str(axes));
    }
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Shape reduced_shape(const Shape& in, const std::vector<int>& axes, bool keepdims) {
  Shape out;
  for (int d = 0; d < static_cast<int>(in.size()); ++d) {
    bool reduced = std::binary_search(axes.begin(), axes.end(), d);
    if (!reduced) {
      out.push_back(in[d]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  return out;
}

int64_t reduced_count(const Shape& in, const std::vector<int>& axes) {
  int64_t n = 1;
  for (int a : axes) n *= in[a];
  return n;
}

// The dtype sum and prod produce (and accumulate in, for integers).
Dtype sum_dtype(Dtype d) {
  if (d == bool_ || d == int8 || d == uint8 || d == int32) return int32;
  return d;
}

Array reduce(ReduceOp op, const Array& a, const std::vector<int>& axes, bool keepdims,
             int ddof = 0) {
  const char* name = reduce_name(op);
  a.check_valid(name);
  std::vector<int> ax = reduction_axes(name, axes, a.ndim());
  Shape shape = reduced_shape(a.shape(), ax, keepdims);
  bool empty = reduced_count(a.shape(), ax) == 0 && shape_size(shape) > 0;
  if (empty && (op == ReduceOp::max || op == ReduceOp::min)) {
    op_error(name, "cannot reduce an empty axis of an array of shape " + shape_str(a.shape()) +
                       " over axes " + axes_str(ax) + ": " + name + " has no identity");
  }
  Array in = a;
  Dtype out;
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::prod:
      out = sum_dtype(a.dtype());
      in = astype(a, out);
      break;
    case ReduceOp::mean:
    case ReduceOp::var:
    case ReduceOp::logsumexp:
      out = a.dtype().is_floating() ? a.dtype() : float32;
      in = astype(a, out);
      break;
    case ReduceOp::all:
    case ReduceOp::any:
      out = bool_;
      in = astype(a, bool_);
      break;
    default: out = a.dtype(); break;
  }
  if (op == ReduceOp::var && ddof < 0) {
    op_error(name, "ddof must be non-negative, got " + std::to_string(ddof));
  }
  return Array(std::move(shape), out, std::make_shared<Reduce>(op, std::move(ax), ddof), {in});
}

Array arg_reduce(ArgReduceOp op, const Array& a, int axis, bool keepdims) {
  const char* name = op == ArgReduceOp::argmax ? "argmax" : "argmin";
  a.check_valid(name);
  int ax = normalize_axis(name, axis, a.ndim());
  if (a.shape()[ax] == 0 && shape_size(reduced_shape(a.shape(), {ax}, false)) > 0) {
    op_error(name, "cannot take the " + std::string(name) + " of an empty axis " +
                       std::to_string(axis) + " of an array of shape " + shape_str(a.shape()));
  }
  if (a.shape()[ax] > int64_t{0xffffffff}) {
    op_error(name, "axis of size " + std::to_string(a.shape()[ax]) + " exceeds uint32 indices");
  }
  Shape shape = reduced_shape(a.shape(), {ax}, keepdims);
  return Array(std::move(shape), uint32, std::make_shared<ArgReduce>(op, ax), {a});
}

Array arg_reduce_flat(ArgReduceOp op, const Array& a, bool keepdims) {
  const char* name = op == ArgReduceOp::argmax ? "argmax" : "argmin";
  a.check_valid(name);
  if (a.size() == 0) {
    op_error(name, "cannot take the " + std::string(name) + " of an empty array of shape " +
                       shape_str(a.shape()));
  }
  Array r = arg_reduce(op, reshape(a, {-1}), 0, false);
  if (keepdims) return reshape(r, Shape(a.ndim(), 1));
  return r;
}

Array scan(ScanOp op, const char* name, const Array& a, int axis, bool reverse, bool inclusive) {
  a.check_valid(name);
  int ax = normalize_axis(name, axis, a.ndim());
  Dtype d = a.dtype();
  if (op == ScanOp::sum || op == ScanOp::prod) d = sum_dtype(d);
  return Array(a.shape(), d, std::make_shared<Scan>(op, ax, reverse, inclusive), {astype(a, d)});
}

}  // namespace

Array sum(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::sum, a, axes, keepdims);
}
Array prod(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::prod, a, axes, keepdims);
}
Array mean(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::mean, a, axes, keepdims);
}
Array var(const Array& a, const std::vector<int>& axes, bool keepdims, int ddof) {
  return reduce(ReduceOp::var, a, axes, keepdims, ddof);
}
Array max(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::max, a, axes, keepdims);
}
Array min(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::min, a, axes, keepdims);
}
Array logsumexp(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::logsumexp, a, axes, keepdims);
}
Array all(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::all, a, axes, keepdims);
}
Array any(const Array& a, const std::vector<int>& axes, bool keepdims) {
  return reduce(ReduceOp::any, a, axes, keepdims);
}

Array argmax(const Array& a, int axis, bool keepdims) {
  return arg_reduce(ArgReduceOp::argmax, a, axis, keepdims);
}
Array argmin(const Array& a, int axis, bool keepdims) {
  return arg_reduce(ArgReduceOp::argmin, a, axis, keepdims);
}
Array argmax(const Array& a, bool keepdims) {
  return arg_reduce_flat(ArgReduceOp::argmax, a, keepdims);
}
Array argmin(const Array& a, bool keepdims) {
  return arg_reduce_flat(ArgReduceOp::argmin, a, keepdims);
}

Array cumsum(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::sum, "cumsum", a, axis, reverse, inclusive);
}
Array cumprod(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::prod, "cumprod", a, axis, reverse, inclusive);
}
Array cummax(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::max, "cummax", a, axis, reverse, inclusive);
}
Array cummin(const Array& a, int axis, bool reverse, bool inclusive) {
  return scan(ScanOp::min, "cummin", a, axis, reverse, inclusive);
}

Array softmax(const Array& a, const std::vector<int>& axes, bool precise) {
  a.check_valid("softmax");
  int nd = a.ndim();
  std::vector<int> ax = reduction_axes("softmax", axes, nd);
  Array x = a.dtype().is_floating() ? a : astype(a, float32);
  if (nd == 0) {
    Array s = Array(Shape{1}, x.dtype(), std::make_shared<Softmax>(0, precise), {reshape(x, {1})});
    return reshape(s, Shape{});
  }
  if (ax.size() == 1) {
    return Array(x.shape(), x.dtype(), std::make_shared<Softmax>(ax[0], precise), {x});
  }
  // Several axes: move them last, merge them into one, and undo both afterwards.
  std::vector<int> perm;
  for (int d = 0; d < nd; ++d) {
    if (!std::binary_search(ax.begin(), ax.end(), d)) perm.push_back(d);
  }
  int kept = static_cast<int>(perm.size());
  perm.insert(perm.end(), ax.begin(), ax.end());
  Array t = transpose(x, perm);
  Shape merged(t.shape().begin(), t.shape().begin() + kept);
  merged.push_back(reduced_count(a.shape(), ax));
  Array flat = reshape(t, merged);
  Array s = Array(flat.shape(), flat.dtype(), std::make_shared<Softmax>(kept, precise), {flat});
  Array back = reshape(s, t.shape());
  std::vector<int> inverse(nd);
  for (int i = 0; i < nd; ++i) inverse[perm[i]] = i;
  return transpose(back, inverse);
}

}  // namespace lathe
