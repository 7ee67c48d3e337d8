// RMSNorm over the fused rms_norm op.
#include "lathe/nn/norm.h"

#include "lathe/ops/elementwise.h"
#include "lathe/ops/fast.h"

namespace lathe::nn {

RMSNorm::RMSNorm(const Weights& w, const std::string& name, int64_t dim, float eps,
                 bool one_plus_weight)
    : weight_(w.get(name + ".weight", {dim})), eps_(eps) {
  if (one_plus_weight) weight_ = astype(weight_, float32) + 1.0f;
}

Array RMSNorm::operator()(const Array& x) const { return fast::rms_norm(x, weight_, eps_); }

Array RMSNorm::operator()(const Array& x, const Array& residual) const {
  return fast::rms_norm(x, weight_, eps_, residual);
}

}  // namespace lathe::nn
