// Op constructors of the sorting family: validate axis, kth and k, record a node.
#include "lathe/ops/sort.h"

#include <memory>
#include <string>

#include "lathe/ops/util.h"
#include "lathe/primitives/sort.h"

namespace lathe {

namespace {

int sort_axis(SortOp op, const Array& a, int axis) {
  const char* name = sort_name(op);
  a.check_valid(name);
  int ax = normalize_axis(name, axis, a.ndim());
  bool indices = op == SortOp::argsort || op == SortOp::argpartition || op == SortOp::topk_indices;
  if (indices && a.shape()[ax] > int64_t{0xffffffff}) {
    op_error(name, "axis of size " + std::to_string(a.shape()[ax]) + " exceeds uint32 indices");
  }
  return ax;
}

Array make(SortOp op, const Array& a, int ax, int64_t kth, Shape shape) {
  bool indices = op == SortOp::argsort || op == SortOp::argpartition || op == SortOp::topk_indices;
  return Array(std::move(shape), indices ? uint32 : a.dtype(), std::make_shared<Sort>(op, ax, kth),
               {a});
}

Array sort_op(SortOp op, const Array& a, int axis) {
  int ax = sort_axis(op, a, axis);
  return make(op, a, ax, 0, a.shape());
}

Array partition_op(SortOp op, const Array& a, int64_t kth, int axis) {
  int ax = sort_axis(op, a, axis);
  int64_t n = a.shape()[ax];
  int64_t k = kth < 0 ? kth + n : kth;
  if (k < 0 || k >= n) {
    op_error(sort_name(op), "kth " + std::to_string(kth) + " is out of range for axis " +
                                std::to_string(axis) + " of size " + std::to_string(n));
  }
  return make(op, a, ax, k, a.shape());
}

Array topk_op(SortOp op, const Array& a, int64_t k, int axis) {
  int ax = sort_axis(op, a, axis);
  int64_t n = a.shape()[ax];
  if (k < 0 || k > n) {
    op_error(sort_name(op), "k " + std::to_string(k) + " must be between 0 and the size " +
                                std::to_string(n) + " of axis " + std::to_string(axis));
  }
  Shape shape = a.shape();
  shape[ax] = k;
  return make(op, a, ax, k, std::move(shape));
}

}  // namespace

Array sort(const Array& a, int axis) { return sort_op(SortOp::sort, a, axis); }
Array argsort(const Array& a, int axis) { return sort_op(SortOp::argsort, a, axis); }
Array partition(const Array& a, int64_t kth, int axis) {
  return partition_op(SortOp::partition, a, kth, axis);
}
Array argpartition(const Array& a, int64_t kth, int axis) {
  return partition_op(SortOp::argpartition, a, kth, axis);
}
Array topk(const Array& a, int64_t k, int axis) { return topk_op(SortOp::topk, a, k, axis); }
Array topk_indices(const Array& a, int64_t k, int axis) {
  return topk_op(SortOp::topk_indices, a, k, axis);
}

}  // namespace lathe
