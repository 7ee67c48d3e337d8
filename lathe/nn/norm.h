// RMS normalization with a learned scale, in the two conventions checkpoints
// use: x̂ * w (Llama, Qwen) and x̂ * (1 + w) (Gemma).
#pragma once

#include <string>

#include "lathe/nn/weights.h"

namespace lathe::nn {

class RMSNorm {
 public:
  // Binds `<name>.weight` [dim]. one_plus_weight: the scale is 1 + w,
  // formed in float32 as Gemma's reference does.
  RMSNorm(const Weights& w, const std::string& name, int64_t dim, float eps,
          bool one_plus_weight = false);
  // Normalizes over the last axis (accumulating in float32); x's dtype.
  Array operator()(const Array& x) const;
  // residual + this(x), in one pass.
  Array operator()(const Array& x, const Array& residual) const;
  const Array& weight() const { return weight_; }

 private:
  Array weight_;
  float eps_;
};

}  // namespace lathe::nn
