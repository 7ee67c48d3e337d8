// Gated MLP and the activations checkpoints name.
#include "lathe/nn/mlp.h"

#include "lathe/core/compile.h"
#include "lathe/ops/elementwise.h"

namespace lathe::nn {

Activation parse_activation(const std::string& name, const std::string& where) {
  if (name == "silu" || name == "swish") return Activation::silu;
  if (name == "gelu") return Activation::gelu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_tanh" || name == "gelu_new") {
    return Activation::gelu_tanh;
  }
  throw Error("[load_model] " + where + ": unsupported activation '" + name +
              "' (supported: silu, gelu, gelu_pytorch_tanh)");
}

Array activate(Activation act, const Array& x) {
  switch (act) {
    case Activation::silu: return silu(x);
    case Activation::gelu: return gelu(x);
    case Activation::gelu_tanh: return gelu_tanh(x);
  }
  return x;
}

Array gated_activation(Activation act, const Array& gate, const Array& up) {
  // One compiled function per activation, traced once for any shape (elementwise only): a
  // single fused loop on the CPU, a single generated kernel on the GPU, with the unfused
  // ops' rounding (compile keeps each op's dtype).
  auto make = [](Activation a) {
    return compile(
        [a](const std::vector<Array>& in) { return std::vector<Array>{activate(a, in[0]) * in[1]}; },
        /*shapeless=*/true);
  };
  static const CompiledFunction silu_fn = make(Activation::silu);
  static const CompiledFunction gelu_fn = make(Activation::gelu);
  static const CompiledFunction gelu_tanh_fn = make(Activation::gelu_tanh);
  const CompiledFunction& f = act == Activation::silu   ? silu_fn
                              : act == Activation::gelu ? gelu_fn
                                                        : gelu_tanh_fn;
  return f({gate, up})[0];
}

namespace {

// The intermediate features this rank holds.
std::pair<int64_t, int64_t> intermediate_part(const Weights& w, const std::string& prefix,
                                              int64_t intermediate, const Shard& shard) {
  if (!shard.split()) return {0, intermediate};
  int64_t granule = 1;
  if (auto q = w.linear(prefix + ".down_proj").quant) granule = q->group_size;
  if (intermediate % granule != 0 || intermediate / granule < shard.size) {
    throw Error("[tp] '" + prefix + "' has " + std::to_string(intermediate) +
                " intermediate features, too few to split in whole quantization groups of " +
                std::to_string(granule) + " across " + std::to_string(shard.size) + " ranks");
  }
  return shard.part(intermediate, granule);
}

}  // namespace

GatedMLP::GatedMLP(const Weights& w, const std::string& prefix, int64_t hidden,
                   int64_t intermediate, bool bias, Activation act, const Shard& shard)
    : GatedMLP(w, prefix, hidden, intermediate, bias, act, shard,
               intermediate_part(w, prefix, intermediate, shard)) {}

GatedMLP::GatedMLP(const Weights& w, const std::string& prefix, int64_t hidden,
                   int64_t intermediate, bool bias, Activation act, const Shard& shard,
                   std::pair<int64_t, int64_t> part)
    : gate_up_({Linear(w, prefix + ".gate_proj", hidden, intermediate, bias,
                       shard.split() ? LinearSplit::columns(part.first, part.second)
                                     : LinearSplit{}),
                Linear(w, prefix + ".up_proj", hidden, intermediate, bias,
                       shard.split() ? LinearSplit::columns(part.first, part.second)
                                     : LinearSplit{})},
               fuse_projections(w)),
      down_proj_(w, prefix + ".down_proj", intermediate, hidden, bias,
                 shard.split() ? LinearSplit::rows(shard, part.first, part.second) : LinearSplit{}),
      act_(act) {}

Array GatedMLP::operator()(const Array& x) const {
  auto gate_up = gate_up_(x);
  return down_proj_(gated_activation(act_, gate_up[0], gate_up[1]));
}

std::vector<Array> GatedMLP::parameters() const {
  std::vector<Array> out = gate_up_.parameters();
  auto d = down_proj_.parameters();
  out.insert(out.end(), d.begin(), d.end());
  return out;
}

}  // namespace lathe::nn
