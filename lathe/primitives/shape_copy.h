// Primitives of the shape ops that move data: concatenate, slice_update, pad.
// (stack, split, tile and repeat are compositions of these and the views.)
#pragma once

#include <string>
#include <vector>

#include "lathe/core/primitive.h"
#include "lathe/ops/shape.h"

namespace lathe {

// Inputs share a dtype and all dims but `axis`; they are laid end to end on it.
class Concatenate : public Primitive {
 public:
  explicit Concatenate(int axis) : axis_(axis) {}
  const char* name() const override { return "concatenate"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Concatenate&>(o).axis_ == axis_;
  }
  std::string describe() const override {
    return "concatenate(axis=" + std::to_string(axis_) + ")";
  }

 private:
  int axis_;
};

// Inputs: the array and the update, already cast to its dtype and broadcast to
// the region's shape. The region starts at start_ with steps_ (normalized).
// Reuses the array's buffer in place when it is donatable.
class SliceUpdate : public Primitive {
 public:
  SliceUpdate(Shape start, Shape steps) : start_(std::move(start)), steps_(std::move(steps)) {}
  const char* name() const override { return "slice_update"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const SliceUpdate&>(o);
    return p.start_ == start_ && p.steps_ == steps_;
  }
  std::string describe() const override {
    return "slice_update(start=" + shape_str(start_) + ", steps=" + shape_str(steps_) + ")";
  }

 private:
  Shape start_, steps_;
};

// Pads each axis with low_[d] elements before; the output shape holds the rest.
class Pad : public Primitive {
 public:
  Pad(Shape low, PadMode mode, double value) : low_(std::move(low)), mode_(mode), value_(value) {}
  const char* name() const override { return "pad"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Pad&>(o);
    return p.low_ == low_ && p.mode_ == mode_ && p.value_ == value_;
  }
  std::string describe() const override {
    return std::string("pad(low=") + shape_str(low_) +
           (mode_ == PadMode::edge ? ", edge)" : ", value=" + std::to_string(value_) + ")");
  }

 private:
  Shape low_;
  PadMode mode_;
  double value_;
};

}  // namespace lathe
