// Primitives of the indexing ops: take (gather by index along an axis), its
// elementwise form take_along_axis, and their writing twins scatter and
// put_along_axis. Index values are checked when the kernel runs: an index
// outside [-n, n) throws lathe::Error naming the op.
#pragma once

#include <string>

#include "lathe/core/primitive.h"

namespace lathe {

// Inputs: a, indices (any integer dtype and shape). Output shape:
// a.shape[:axis] + indices.shape + a.shape[axis+1:].
class Take : public Primitive {
 public:
  // `op` names the public op in errors (take or gather); a string literal.
  Take(int axis, const char* op) : axis_(axis), op_(op) {}
  const char* name() const override { return op_; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Take&>(o).axis_ == axis_;
  }
  std::string describe() const override {
    return std::string(op_) + "(axis=" + std::to_string(axis_) + ")";
  }

 private:
  int axis_;
  const char* op_;
};

// Inputs: a broadcast to the output shape except on axis, and indices
// broadcast to the output shape; out[.., j, ..] = a[.., indices[.., j, ..], ..].
class TakeAlongAxis : public Primitive {
 public:
  explicit TakeAlongAxis(int axis) : axis_(axis) {}
  const char* name() const override { return "take_along_axis"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const TakeAlongAxis&>(o).axis_ == axis_;
  }
  std::string describe() const override {
    return "take_along_axis(axis=" + std::to_string(axis_) + ")";
  }

 private:
  int axis_;
};

enum class ScatterReduce : uint8_t { assign, add };

// Inputs: a, indices and values (cast to a's dtype), the two latter broadcast
// to a's shape with indices.shape[axis] on axis; the output is a with
// out[.., indices[.., j, ..], ..] = values[.., j, ..]. Works in place when a is donatable.
class PutAlongAxis : public Primitive {
 public:
  explicit PutAlongAxis(int axis) : axis_(axis) {}
  const char* name() const override { return "put_along_axis"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const PutAlongAxis&>(o).axis_ == axis_;
  }
  std::string describe() const override {
    return "put_along_axis(axis=" + std::to_string(axis_) + ")";
  }

 private:
  int axis_;
};

// The transpose of Take. Inputs: a, indices (any shape), updates (cast to a's
// dtype, broadcast to a.shape[:axis] + indices.shape + a.shape[axis+1:]).
// The output is a with each slab a[.., indices[j], ..] assigned or
// accumulated from updates[.., j, ..]. Works in place when a is donatable.
class Scatter : public Primitive {
 public:
  Scatter(int axis, ScatterReduce reduce) : axis_(axis), reduce_(reduce) {}
  const char* name() const override {
    return reduce_ == ScatterReduce::add ? "scatter_add" : "scatter";
  }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Scatter&>(o);
    return p.axis_ == axis_ && p.reduce_ == reduce_;
  }
  std::string describe() const override {
    return std::string(name()) + "(axis=" + std::to_string(axis_) + ")";
  }

 private:
  int axis_;
  ScatterReduce reduce_;
};

}  // namespace lathe
