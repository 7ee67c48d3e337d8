// The gated feed-forward block of Llama-family decoders:
// down_proj(act(gate_proj(x)) * up_proj(x)).
#pragma once

#include <string>
#include <utility>

#include "lathe/nn/linear.h"

namespace lathe::nn {

enum class Activation { silu, gelu, gelu_tanh };
// config.json's hidden_act / hidden_activation; an unknown name throws
// lathe::Error naming `where` (the config file).
Activation parse_activation(const std::string& name, const std::string& where);
Array activate(Activation act, const Array& x);
// act(gate) * up as one fused elementwise loop (a compiled function): what activate(act, gate) *
// up computes, with the same rounding.
Array gated_activation(Activation act, const Array& gate, const Array& up);

class GatedMLP {
 public:
  // Binds <prefix>.{gate,up,down}_proj. Split across ranks, gate/up hold a
  // near-even part of the intermediate features (whole quantization groups
  // of down_proj when it is quantized) and down_proj the same input
  // features, its partial outputs summed across ranks.
  GatedMLP(const Weights& w, const std::string& prefix, int64_t hidden, int64_t intermediate,
           bool bias, Activation act, const Shard& shard = {});
  Array operator()(const Array& x) const;
  std::vector<Array> parameters() const;

 private:
  GatedMLP(const Weights& w, const std::string& prefix, int64_t hidden, int64_t intermediate,
           bool bias, Activation act, const Shard& shard, std::pair<int64_t, int64_t> part);

  LinearGroup gate_up_;  // gate_proj, up_proj
  Linear down_proj_;
  Activation act_;
};

}  // namespace lathe::nn
