// Quantization primitives: MLX affine quantize (one node per output part),
// dequantize, and quantized matmul / gather_qmm with fused dequantization.
// Inputs reach these primitives row-contiguous (the ops make them so).
#pragma once

#include <string>

#include "lathe/core/primitive.h"

namespace lathe {

enum class QuantMode : uint8_t { affine, mxfp4 };
const char* quant_mode_name(QuantMode m);

struct QuantSpec {
  int group_size;
  int bits;
  QuantMode mode;
  bool operator==(const QuantSpec&) const = default;
  std::string str() const;
};

// One output of affine quantization of w [..., N, K] along K.
class AffineQuantize : public Primitive {
 public:
  enum class Part : uint8_t { packed, scales, biases };
  AffineQuantize(QuantSpec spec, Part part) : spec_(spec), part_(part) {}
  const char* name() const override { return "quantize"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const AffineQuantize&>(o);
    return p.spec_ == spec_ && p.part_ == part_;
  }
  std::string describe() const override { return "quantize(" + spec_.str() + ")"; }

 private:
  QuantSpec spec_;
  Part part_;
};

// inputs: wq (uint32 or uint8 rows of packed codes), scales[, biases].
class Dequantize : public Primitive {
 public:
  explicit Dequantize(QuantSpec spec) : spec_(spec) {}
  const char* name() const override { return "dequantize"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Dequantize&>(o).spec_ == spec_;
  }
  std::string describe() const override { return "dequantize(" + spec_.str() + ")"; }

 private:
  QuantSpec spec_;
};

// inputs: x [..., M, K], wq, scales[, biases] (batch dims broadcast with x's);
// out = x @ dequantize(w).T (transpose) or x @ dequantize(w).
class QuantizedMatmul : public Primitive {
 public:
  QuantizedMatmul(QuantSpec spec, bool transpose) : spec_(spec), transpose_(transpose) {}
  const char* name() const override { return "quantized_matmul"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const QuantizedMatmul&>(o);
    return p.spec_ == spec_ && p.transpose_ == transpose_;
  }
  std::string describe() const override {
    return "quantized_matmul(" + spec_.str() + (transpose_ ? ", transpose" : "") + ")";
  }

 private:
  QuantSpec spec_;
  bool transpose_;
};

// inputs: x, wq, scales[, biases], lhs, rhs (uint32 flat batch indices).
class GatherQMM : public Primitive {
 public:
  GatherQMM(QuantSpec spec, bool transpose) : spec_(spec), transpose_(transpose) {}
  const char* name() const override { return "gather_qmm"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const GatherQMM&>(o);
    return p.spec_ == spec_ && p.transpose_ == transpose_;
  }
  std::string describe() const override {
    return "gather_qmm(" + spec_.str() + (transpose_ ? ", transpose" : "") + ")";
  }

 private:
  QuantSpec spec_;
  bool transpose_;
};

}  // namespace lathe
