// Primitives that create data: fill with a value, arithmetic ranges.
#pragma once

#include "lathe/core/primitive.h"

namespace lathe {

class Full : public Primitive {
 public:
  explicit Full(double value) : value_(value) {}
  const char* name() const override { return "full"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Full&>(o).value_ == value_;
  }
  double value() const { return value_; }

 private:
  double value_;
};

// out[i] = start + i * step, computed in float64 then converted.
class Arange : public Primitive {
 public:
  Arange(double start, double step) : start_(start), step_(step) {}
  const char* name() const override { return "arange"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Arange&>(o);
    return p.start_ == start_ && p.step_ == step_;
  }

 private:
  double start_, step_;
};

}  // namespace lathe
