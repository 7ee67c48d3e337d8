// How a checkpoint's Linear and Embedding weights are quantized: the
// `quantization` / `quantization_config` entries of config.json (MLX-community
// affine or mxfp4 with per-module overrides; Hugging Face mxfp4 as in gpt-oss),
// and the loader that returns a module's weights dense or quantized.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe::io {

class WeightStore;

struct QuantSpec {
  int group_size = 64;
  int bits = 4;
  std::string mode = "affine";  // "affine" (scales + biases) or "mxfp4" (scales only)
  bool operator==(const QuantSpec&) const = default;
};

class QuantConfig {
 public:
  QuantConfig() = default;  // nothing quantized

  // Reads the root object of config.json. `quantization` (MLX) wins over
  // `quantization_config`; the latter is read in MLX form, or in Hugging Face
  // form when it has `quant_method` ("mxfp4"; any other method is a
  // lathe::Error naming it). `label` names the file in errors.
  //   MLX form: {"group_size": 64, "bits": 4, "mode": "affine",
  //              "model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8},
  //              "lm_head": false}
  //   HF mxfp4: {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn",
  //   ...]}
  static QuantConfig from_config(const nlohmann::json& config, const std::string& label);

  bool quantized() const { return default_.has_value(); }
  const std::optional<QuantSpec>& default_spec() const { return default_; }
  // "mlx" or "hf_mxfp4" when quantized, else "".
  const std::string& format() const { return format_; }

  // How the config says the module at `path` (e.g. "model.layers.0.self_attn.q_proj")
  // is quantized, nullopt for "not quantized" (an override `false`, or a match
  // in modules_to_not_convert). Whether it actually is depends on the weights:
  // see load_linear.
  std::optional<QuantSpec> spec_for(const std::string& path) const;

  const std::map<std::string, std::optional<QuantSpec>>& overrides() const { return overrides_; }
  const std::vector<std::string>& not_converted() const { return not_converted_; }

 private:
  std::optional<QuantSpec> default_;
  std::string format_;
  std::map<std::string, std::optional<QuantSpec>> overrides_;  // nullopt: `false`
  std::vector<std::string> not_converted_;  // patterns, '*' matches within one path segment
};

// The parameters of a Linear or Embedding module as stored. When quantized,
// `weight` holds the codes (uint32 packed for MLX; uint8 [..., N, K/32, 16]
// blocks for gpt-oss) and `scales` (and `biases` for affine) are set; the
// dense float matrix is dequantize(weight, scales, biases, group_size, bits, mode).
struct LinearWeights {
  Array weight;
  std::optional<Array> scales;
  std::optional<Array> biases;  // affine quantization offsets (not the layer bias)
  std::optional<Array> bias;    // the layer's additive bias
  std::optional<QuantSpec> quant;
  bool quantized() const { return quant.has_value(); }
};

// Loads module `path` from `weights`, MLX rule: it is quantized iff
// `<path>.scales` exists, with the spec from `qc` (override, else default).
// Tensors: `<path>.weight` [+ `.scales` + `.biases`] [+ `.bias`]. The
// gpt-oss naming `<path>_blocks` + `<path>_scales` [+ `<path>_bias`] (mxfp4)
// and its dense form `<path>` [+ `<path>_bias`] are read too. Shapes and dtypes
// of codes, scales and biases are checked against each other and the spec;
// every failure is a lathe::Error naming the module and tensor.
LinearWeights load_linear(const WeightStore& weights, const std::string& path,
                          const QuantConfig& qc);

}  // namespace lathe::io
