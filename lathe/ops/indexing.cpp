// Indexing op constructors: validate ranks, axes and index dtypes, infer
// shapes, and record take / take_along_axis / put_along_axis / scatter nodes.
#include "lathe/ops/indexing.h"

#include <memory>
#include <string>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/indexing.h"

namespace lathe {

namespace {

void require_indices(const char* op, const Array& indices) {
  indices.check_valid(op);
  if (!indices.dtype().is_integral()) {
    op_error(op, std::string("indices must have an integer dtype, got ") + indices.dtype().name());
  }
}

// The shape take produces and scatter's updates have.
Shape take_shape(const Shape& a, const Shape& indices, int axis) {
  Shape s(a.begin(), a.begin() + axis);
  s.insert(s.end(), indices.begin(), indices.end());
  s.insert(s.end(), a.begin() + axis + 1, a.end());
  return s;
}

Array take_impl(const char* op, const Array& a, const Array& indices, int axis) {
  a.check_valid(op);
  require_indices(op, indices);
  const int ax = normalize_axis(op, axis, a.ndim());
  return Array(take_shape(a.shape(), indices.shape(), ax), a.dtype(),
               std::make_shared<Take>(ax, op), {a, indices});
}

Array scatter_impl(ScatterReduce reduce, const Array& a, const Array& indices, const Array& updates,
                   int axis) {
  const char* op = reduce == ScatterReduce::add ? "scatter_add" : "scatter";
  a.check_valid(op);
  updates.check_valid(op);
  require_indices(op, indices);
  const int ax = normalize_axis(op, axis, a.ndim());
  Shape want = take_shape(a.shape(), indices.shape(), ax);
  if (broadcast_shapes(op, updates.shape(), want) != want) {
    op_error(op, "updates of shape " + shape_str(updates.shape()) + " cannot be broadcast to " +
                     shape_str(want) + " (a " + shape_str(a.shape()) + ", indices " +
                     shape_str(indices.shape()) + ", axis " + std::to_string(ax) + ")");
  }
  if (indices.size() == 0) return a;
  Array u = broadcast_to(astype(updates, a.dtype()), want);
  return Array(a.shape(), a.dtype(), std::make_shared<Scatter>(ax, reduce), {a, indices, u});
}

void require_same_rank(const char* op, const Array& a, const Array& indices) {
  if (indices.ndim() != a.ndim()) {
    op_error(op, "indices of shape " + shape_str(indices.shape()) + " must have the rank of a " +
                     shape_str(a.shape()));
  }
}

}  // namespace

Array take(const Array& a, const Array& indices, int axis) {
  return take_impl("take", a, indices, axis);
}

Array take(const Array& a, const Array& indices) {
  a.check_valid("take");
  return take_impl("take", reshape(a, {-1}), indices, 0);
}

Array gather(const Array& table, const Array& ids) {
  table.check_valid("gather");
  if (table.ndim() == 0) op_error("gather", "the table must have at least one dimension");
  return take_impl("gather", table, ids, 0);
}

Array take_along_axis(const Array& a, const Array& indices, int axis) {
  const char* op = "take_along_axis";
  a.check_valid(op);
  require_indices(op, indices);
  require_same_rank(op, a, indices);
  const int ax = normalize_axis(op, axis, a.ndim());
  // Off the axis, a and indices broadcast together; on it, indices decide.
  Shape a_shape = a.shape(), i_shape = indices.shape();
  a_shape[ax] = 1;
  i_shape[ax] = 1;
  Shape out = broadcast_shapes(op, a_shape, i_shape);
  Shape a_target = out;
  a_target[ax] = a.shape()[ax];
  out[ax] = indices.shape()[ax];
  return Array(out, a.dtype(), std::make_shared<TakeAlongAxis>(ax),
               {broadcast_to(a, a_target), broadcast_to(indices, out)});
}

Array put_along_axis(const Array& a, const Array& indices, const Array& values, int axis) {
  const char* op = "put_along_axis";
  a.check_valid(op);
  values.check_valid(op);
  require_indices(op, indices);
  require_same_rank(op, a, indices);
  const int ax = normalize_axis(op, axis, a.ndim());
  Shape target = a.shape();
  target[ax] = indices.shape()[ax];
  for (int d = 0; d < a.ndim(); ++d) {
    if (d != ax && indices.shape()[d] != 1 && indices.shape()[d] != a.shape()[d]) {
      op_error(op, "indices of shape " + shape_str(indices.shape()) + " do not match a " +
                       shape_str(a.shape()) + " on axis " + std::to_string(d));
    }
  }
  if (broadcast_shapes(op, values.shape(), target) != target) {
    op_error(op, "values of shape " + shape_str(values.shape()) + " cannot be broadcast to " +
                     shape_str(target));
  }
  if (shape_size(target) == 0) return a;
  return Array(a.shape(), a.dtype(), std::make_shared<PutAlongAxis>(ax),
               {a, broadcast_to(indices, target), broadcast_to(astype(values, a.dtype()), target)});
}

Array scatter(const Array& a, const Array& indices, const Array& updates, int axis) {
  return scatter_impl(ScatterReduce::assign, a, indices, updates, axis);
}

Array scatter_add(const Array& a, const Array& indices, const Array& updates, int axis) {
  return scatter_impl(ScatterReduce::add, a, indices, updates, axis);
}

}  // namespace lathe
