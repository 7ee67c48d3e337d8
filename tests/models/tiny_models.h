// Tiny random-weight decoder models for the model tests: the config.json and
// safetensors of a Llama/Qwen/Mistral/Gemma 3 folder, and a float64 reference
// forward written from the architectures' definitions (independent of lathe's
// layers), used until transformers fixtures cover a case.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/harness.h"

namespace lathe::testing {

struct TinySpec {
  std::string model_type = "llama";  // llama | mistral | qwen2 | qwen3 | gemma3_text | gemma3
  int vocab = 37, hidden = 32, intermediate = 48, layers = 2, heads = 4, kv_heads = 2;
  int head_dim = 8;
  bool explicit_head_dim = false;
  bool tie = false;
  bool attention_bias = false, mlp_bias = false;
  double eps = 1e-6;
  double theta = 10000;
  nlohmann::json rope_scaling = nullptr;  // written as rope_scaling (or in rope_parameters)
  bool new_rope_form = false;             // rope_parameters (+ layer_types) instead
  int max_positions = 128;
  int window = 0;             // sliding window of the sliding layers
  std::vector<bool> sliding;  // per layer; empty: none
  // Gemma 3
  double local_theta = 10000;
  double query_pre_attn_scalar = 8;
  std::optional<double> final_softcap, attn_softcap;
  std::string weight_prefix =
      "model.";  // gemma3 folders: language_model.model. / model.language_model.

  bool gemma() const { return model_type.rfind("gemma3", 0) == 0; }
};

nlohmann::json tiny_config(const TinySpec& s);
// Random weights by Hugging Face name (values exact in float32 and bfloat16).
std::map<std::string, Host> tiny_weights(const TinySpec& s, uint64_t seed);
// Writes config.json and model.safetensors (weights as `dtype`) into a fresh
// folder under the test temp dir; returns its path.
std::string write_tiny_model(const TinySpec& s, const std::map<std::string, Host>& weights,
                             Dtype dtype, const std::string& name);
// float64 logits [T, vocab] of the sequence. `chunks` only matters for
// dynamic NTK rope: each position rotates with the frequencies of the forward
// (chunk) it was fed in, as transformers does with a cache; empty: one pass.
Host reference_logits(const TinySpec& s, const std::map<std::string, Host>& weights,
                      const std::vector<int>& ids, const std::vector<int>& chunks = {});
// max |got - want| / max |want|.
double max_rel_error(const Host& got, const Host& want);

}  // namespace lathe::testing
