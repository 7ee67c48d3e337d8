// Sorting primitives along one axis: full sorts, partitions and top-k, each as
// values or as uint32 indices. NaN orders after every number.
#pragma once

#include <string>

#include "lathe/core/primitive.h"

namespace lathe {

enum class SortOp { sort, argsort, partition, argpartition, topk, topk_indices };
const char* sort_name(SortOp op);

// kth_ is the partition point (partition, argpartition) or k (topk, topk_indices),
// already normalized by the op.
class Sort : public Primitive {
 public:
  Sort(SortOp op, int axis, int64_t kth = 0) : op_(op), axis_(axis), kth_(kth) {}
  const char* name() const override { return sort_name(op_); }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Sort&>(o);
    return p.op_ == op_ && p.axis_ == axis_ && p.kth_ == kth_;
  }
  std::string describe() const override;

 private:
  SortOp op_;
  int axis_;
  int64_t kth_;
};

}  // namespace lathe
