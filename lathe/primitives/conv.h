// The convolution primitive: forward (cross-correlation) or transposed, with
// 1-3 spatial dimensions, channels-last. Inputs: x, w (same dtype).
#pragma once

#include <vector>

#include "lathe/core/primitive.h"

namespace lathe {

struct ConvParams {
  std::vector<int> stride, padding_lo, padding_hi, dilation;
  int groups = 1;
  bool transpose = false;  // scatter form; padding_hi is unused (the output shape decides)
  bool operator==(const ConvParams&) const = default;
};

class Convolution : public Primitive {
 public:
  explicit Convolution(ConvParams p) : p_(std::move(p)) {}
  const char* name() const override { return p_.transpose ? "conv_transpose" : "conv"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Convolution&>(o).p_ == p_;
  }
  std::string describe() const override;
  const ConvParams& params() const { return p_; }

 private:
  ConvParams p_;
};

}  // namespace lathe
