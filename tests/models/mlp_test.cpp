// The gated MLP's fused activation: gated_activation(act, gate, up) is one compiled loop
// (one generated kernel on the GPU) that must give exactly what the unfused ops give, in
// every float dtype and input layout, and match a float64 reference.
#include <gtest/gtest.h>

#include <cmath>

#include "support/harness.h"
#include "lathe/nn/mlp.h"
#include "lathe/ops/elementwise.h"

namespace lathe::testing {
namespace {

double reference(nn::Activation act, double g) {
  switch (act) {
    case nn::Activation::silu: return g / (1.0 + std::exp(-g));
    case nn::Activation::gelu: return 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0)));
    case nn::Activation::gelu_tanh: {
      const double k = std::sqrt(2.0 / M_PI);
      return 0.5 * g * (1.0 + std::tanh(k * (g + 0.044715 * g * g * g)));
    }
  }
  return 0;
}

TEST(GatedActivation, EqualsTheUnfusedOpsAndTheReference) {
  const nn::Activation acts[] = {nn::Activation::silu, nn::Activation::gelu,
                                 nn::Activation::gelu_tanh};
  for (Dtype dt : {float32, bfloat16, float16}) {
    for (nn::Activation act : acts) {
      for (Layout layout : all_layouts) {
        for (const Shape& shape : {Shape{1, 1, 37}, Shape{2, 5, 64}}) {
          Host g = random_host(shape, dt, 11, -6, 6), u = random_host(shape, dt, 12);
          Array gate = make_array(g, dt, layout), up = make_array(u, dt);
          Array fused = nn::gated_activation(act, gate, up);
          Array unfused = nn::activate(act, gate) * up;
          EXPECT_EQ(fused.dtype(), dt);
          Host f = to_host(fused), w = to_host(unfused);
          // Bit for bit the unfused result (compile keeps each op's rounding)...
          EXPECT_TRUE(close(f, w, {0, 0})) << dt.name() << " " << layout_name(layout);
          // ...and near the float64 reference (two roundings: the activation's and the product's).
          Host want = zip(g, u, [act](double a, double b) { return reference(act, a) * b; });
          const Tol t = default_tol(dt);
          EXPECT_TRUE(close(f, want, {2 * t.rtol, 2 * t.atol}))
              << dt.name() << " " << layout_name(layout);
        }
      }
    }
  }
}

}  // namespace
}  // namespace lathe::testing
