// Reduction primitives: reductions over a set of axes, arg-reductions, scans
// along one axis, and softmax. Output shapes (keepdims or not) are the node's;
// kernels only need the axes.
#pragma once

#include <string>
#include <vector>

#include "lathe/core/primitive.h"

namespace lathe {

enum class ReduceOp { sum, prod, max, min, mean, var, logsumexp, all, any };
const char* reduce_name(ReduceOp op);

// Reduces the input over axes_ (sorted, unique). Input dtypes are already the
// ones the kernel expects (ops convert where numpy promotes): sum/prod read
// int32, int64, uint32 or floats; mean/var/logsumexp read floats.
class Reduce : public Primitive {
 public:
  Reduce(ReduceOp op, std::vector<int> axes, int ddof = 0)
      : op_(op), axes_(std::move(axes)), ddof_(ddof) {}
  const char* name() const override { return reduce_name(op_); }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Reduce&>(o);
    return p.op_ == op_ && p.axes_ == axes_ && p.ddof_ == ddof_;
  }
  std::string describe() const override;
  ReduceOp op() const { return op_; }
  const std::vector<int>& axes() const { return axes_; }
  int ddof() const { return ddof_; }

 private:
  ReduceOp op_;
  std::vector<int> axes_;
  int ddof_;
};

enum class ArgReduceOp { argmax, argmin };

// Index (uint32) of the first extreme element along one axis; NaN wins, as numpy.
class ArgReduce : public Primitive {
 public:
  ArgReduce(ArgReduceOp op, int axis) : op_(op), axis_(axis) {}
  const char* name() const override { return op_ == ArgReduceOp::argmax ? "argmax" : "argmin"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const ArgReduce&>(o);
    return p.op_ == op_ && p.axis_ == axis_;
  }
  std::string describe() const override;

 private:
  ArgReduceOp op_;
  int axis_;
};

enum class ScanOp { sum, prod, max, min };

// Running reduction along one axis (cumsum, cumprod, cummax, cummin).
class Scan : public Primitive {
 public:
  Scan(ScanOp op, int axis, bool reverse, bool inclusive)
      : op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  const char* name() const override;
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Scan&>(o);
    return p.op_ == op_ && p.axis_ == axis_ && p.reverse_ == reverse_ && p.inclusive_ == inclusive_;
  }
  std::string describe() const override;

 private:
  ScanOp op_;
  int axis_;
  bool reverse_;
  bool inclusive_;
};

// exp(x - max) / sum along one axis of a floating array. The CPU computes
// 16-bit inputs in float32 whether or not precise_ is set; the flag exists for
// backends that would otherwise compute in the input type.
class Softmax : public Primitive {
 public:
  Softmax(int axis, bool precise) : axis_(axis), precise_(precise) {}
  const char* name() const override { return "softmax"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Softmax&>(o);
    return p.axis_ == axis_ && p.precise_ == precise_;
  }
  std::string describe() const override;

 private:
  int axis_;
  bool precise_;
};

}  // namespace lathe
