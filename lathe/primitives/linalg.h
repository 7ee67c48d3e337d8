// Matrix-product primitives: batched matmul, addmm (alpha*a@b + beta*c) and
// gather_mm (matmul of index-selected matrices, for mixture-of-experts).
#pragma once

#include "lathe/core/primitive.h"

namespace lathe {

// inputs: a [..., M, K], b [..., K, N] (batch dims broadcast); out [batch..., M, N].
class Matmul : public Primitive {
 public:
  const char* name() const override { return "matmul"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
};

// inputs: c (broadcastable to out), a, b; out = alpha * a @ b + beta * c.
class AddMM : public Primitive {
 public:
  AddMM(float alpha, float beta) : alpha_(alpha), beta_(beta) {}
  const char* name() const override { return "addmm"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const AddMM&>(o);
    return p.alpha_ == alpha_ && p.beta_ == beta_;
  }
  std::string describe() const override {
    return "addmm(alpha=" + std::to_string(alpha_) + ", beta=" + std::to_string(beta_) + ")";
  }

 private:
  float alpha_, beta_;
};

// inputs: a [A..., M, K], b [B..., K, N], lhs and rhs uint32 indices (broadcast
// to out's batch shape) into the flattened batch dims of a and b.
class GatherMM : public Primitive {
 public:
  const char* name() const override { return "gather_mm"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
};

}  // namespace lathe
