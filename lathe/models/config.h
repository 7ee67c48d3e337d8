// A language model's config.json, read into one struct for every decoder
// architecture: the hub's common form (rope_theta, rope_scaling,
// sliding_window_pattern, text_config nesting) and transformers' newer one
// (rope_parameters, possibly per layer type, and layer_types).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lathe/nn/rope.h"

namespace lathe {

using nn::RopeParams;

// The per-architecture defaults transformers' config class would apply. An
// unset optional makes the field required.
struct ConfigDefaults {
  std::optional<int> vocab_size, hidden_size, intermediate_size, num_hidden_layers,
      num_attention_heads;
  std::optional<int> num_key_value_heads;  // unset: num_attention_heads
  std::optional<int> head_dim;             // unset: hidden_size / num_attention_heads
  int max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  std::string hidden_act = "silu";
  // Gemma 3: local layers by pattern, their own rope base, attention scale.
  bool gemma_layers = false;
  std::optional<int> sliding_window;  // value when the key is absent
  int sliding_window_pattern = 6;
  double rope_local_base_freq = 10000.0;
  std::optional<double> query_pre_attn_scalar;
  // Qwen 2/3: sliding windows only with use_sliding_window, from max_window_layers on.
  bool qwen_sliding = false;
  // Mistral: a sliding_window applies to every layer.
  bool window_on_all_layers = false;
};

struct TextConfig {
  std::string path;        // config.json, for error messages
  std::string model_type;  // the folder's model_type (gemma3 for multimodal folders)
  int vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0;
  int num_attention_heads = 0, num_key_value_heads = 0, head_dim = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false, mlp_bias = false;
  std::string hidden_act;
  // "full_attention" or "sliding_attention", one per layer.
  std::vector<std::string> layer_types;
  int sliding_window = 0;  // 0: no sliding-window layers
  // Rotary parameters by layer type.
  std::map<std::string, RopeParams> rope;
  double query_pre_attn_scalar = 0;
  std::optional<double> final_logit_softcapping, attn_logit_softcapping;
  bool bidirectional_attention = false;  // use_bidirectional_attention (embedding models)

  bool is_sliding(int layer) const { return layer_types[layer] == "sliding_attention"; }
  const RopeParams& rope_for(int layer) const { return rope.at(layer_types[layer]); }
};

// Reads dir/config.json (its text_config when it has one). Missing required
// fields and malformed values throw lathe::Error naming config.json and the field.
TextConfig read_text_config(const std::string& dir, const ConfigDefaults& defaults);

}  // namespace lathe
