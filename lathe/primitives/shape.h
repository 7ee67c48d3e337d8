// Primitives of the view ops: the output shares the input's buffer when it can.
#pragma once

#include "lathe/core/primitive.h"

namespace lathe {

class Reshape : public Primitive {
 public:
  const char* name() const override { return "reshape"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }  // shape is the node's
};

class Transpose : public Primitive {
 public:
  explicit Transpose(std::vector<int> axes) : axes_(std::move(axes)) {}
  const char* name() const override { return "transpose"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Transpose&>(o).axes_ == axes_;
  }
  const std::vector<int>& axes() const { return axes_; }

 private:
  std::vector<int> axes_;
};

class Broadcast : public Primitive {
 public:
  const char* name() const override { return "broadcast_to"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
};

class Slice : public Primitive {
 public:
  Slice(Shape start, Shape steps) : start_(std::move(start)), steps_(std::move(steps)) {}
  const char* name() const override { return "slice"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Slice&>(o);
    return p.start_ == start_ && p.steps_ == steps_;
  }
  const Shape& start() const { return start_; }
  const Shape& steps() const { return steps_; }

 private:
  Shape start_, steps_;
};

class AsStrided : public Primitive {
 public:
  AsStrided(Strides strides, int64_t offset) : strides_(std::move(strides)), offset_(offset) {}
  const char* name() const override { return "as_strided"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const AsStrided&>(o);
    return p.strides_ == strides_ && p.offset_ == offset_;
  }

 private:
  Strides strides_;
  int64_t offset_;
};

// Reinterprets the bytes of a row-major copy of the input as another dtype.
class BitCast : public Primitive {
 public:
  const char* name() const override { return "bitcast"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
};

class Contiguous : public Primitive {
 public:
  const char* name() const override { return "contiguous"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
};

}  // namespace lathe
