// Llama (LlamaForCausalLM) and the models of the same shape. Names follow
// transformers' modeling_llama.py: embed_tokens -> layers[i] (input_layernorm,
// self_attn, post_attention_layernorm, mlp) -> norm -> lm_head.
#include "lathe/models/llama.h"

#include <cmath>

#include "lathe/models/decoder.h"
#include "lathe/nn/attention.h"
#include "lathe/nn/linear.h"
#include "lathe/nn/mlp.h"
#include "lathe/nn/norm.h"
#include "lathe/nn/rope.h"
#include "lathe/ops/elementwise.h"

namespace lathe {

namespace {

class LlamaDecoderLayer {
 public:
  LlamaDecoderLayer(const nn::Weights& w, const std::string& prefix, const TextConfig& c,
                    const LlamaFlavor& flavor, int layer, const nn::Shard& shard)
      : input_layernorm_(w, prefix + ".input_layernorm", c.hidden_size, float(c.rms_norm_eps)),
        self_attn_(w, prefix + ".self_attn", attention_spec(c, flavor, layer), shard),
        post_attention_layernorm_(w, prefix + ".post_attention_layernorm", c.hidden_size,
                                  float(c.rms_norm_eps)),
        mlp_(w, prefix + ".mlp", c.hidden_size, c.intermediate_size, c.mlp_bias,
             nn::parse_activation(c.hidden_act, c.path), shard) {}

  Array operator()(const Array& hidden_states, KVCache& cache, const nn::RotaryEmbedding& rope,
                   StepPosition* at) const {
    Array residual = hidden_states;
    Array h = input_layernorm_(hidden_states);
    h = self_attn_(h, cache, rope, at);
    h = residual + h;
    residual = h;
    h = post_attention_layernorm_(h);
    h = mlp_(h);
    return residual + h;
  }

  std::vector<Array> parameters() const {
    std::vector<Array> out{input_layernorm_.weight(), post_attention_layernorm_.weight()};
    for (auto& p : {self_attn_.parameters(), mlp_.parameters()}) {
      out.insert(out.end(), p.begin(), p.end());
    }
    return out;
  }

 private:
  static nn::AttentionSpec attention_spec(const TextConfig& c, const LlamaFlavor& flavor,
                                          int layer) {
    nn::AttentionSpec s;
    s.hidden_size = c.hidden_size;
    s.num_heads = c.num_attention_heads;
    s.num_kv_heads = c.num_key_value_heads;
    s.head_dim = c.head_dim;
    s.scale = static_cast<float>(1.0 / std::sqrt(double(c.head_dim)));
    s.qkv_bias = c.attention_bias || flavor.qkv_bias;
    s.o_bias = c.attention_bias;
    s.window = c.is_sliding(layer) ? c.sliding_window : 0;
    s.qk_norm = flavor.qk_norm ? nn::AttentionSpec::QkNorm::rms : nn::AttentionSpec::QkNorm::none;
    s.norm_eps = static_cast<float>(c.rms_norm_eps);
    return s;
  }

  nn::RMSNorm input_layernorm_;
  nn::Attention self_attn_;
  nn::RMSNorm post_attention_layernorm_;
  nn::GatedMLP mlp_;
};

class LlamaForCausalLM : public DecoderModel {
 public:
  LlamaForCausalLM(const std::string& dir, const LoadOptions& opts, TextConfig c,
                   const LlamaFlavor& flavor)
      : DecoderModel(std::move(c), opts),
        weights_in_(open_weights(dir, config_, opts)),
        embed_tokens_(weights_in_, "model.embed_tokens", config_.vocab_size, config_.hidden_size,
                      opts.shard),
        norm_(weights_in_, "model.norm", config_.hidden_size, float(config_.rms_norm_eps)),
        rotary_emb_(config_.rope.at("full_attention"), config_.head_dim,
                    config_.max_position_embeddings) {
    for (int i = 0; i < config_.num_hidden_layers; ++i) {
      layers_.emplace_back(weights_in_, "model.layers." + std::to_string(i), config_, flavor, i,
                           opts.shard);
      add_weights(layers_.back().parameters());
    }
    // Some tied checkpoints still ship lm_head.weight; the tie decides.
    if (!config_.tie_word_embeddings) {
      lm_head_.emplace(weights_in_, "lm_head", config_.hidden_size, config_.vocab_size, false,
                       nn::LinearSplit::gathered_columns(opts.shard, config_.vocab_size));
      add_weights(lm_head_->parameters());
    }
    add_weights(embed_tokens_.parameters());
    add_weights({norm_.weight()});
  }

 private:
  bool takes_step_positions(int seq_len) const override {
    return rotary_emb_.fixed_up_to(seq_len);
  }

  Array run(const Array& tokens, KVCaches& caches, StepPosition* at) override {
    DeviceScope on_device(device_);
    rotary_emb_.prepare(caches[0]->offset() + static_cast<int>(tokens.shape(1)));
    Array hidden_states = embed_tokens_(tokens_on_device(tokens));
    for (size_t i = 0; i < layers_.size(); ++i) {
      hidden_states = layers_[i](hidden_states, *caches[i], rotary_emb_, at);
    }
    hidden_states = norm_(hidden_states);
    Array logits = lm_head_ ? (*lm_head_)(hidden_states) : embed_tokens_.as_linear(hidden_states);
    return astype(logits, float32);
  }

  nn::Weights weights_in_;
  nn::Embedding embed_tokens_;
  std::vector<LlamaDecoderLayer> layers_;
  nn::RMSNorm norm_;
  std::optional<nn::Linear> lm_head_;
  nn::RotaryEmbedding rotary_emb_;
};

}  // namespace

std::unique_ptr<LanguageModel> load_llama_like(const std::string& dir, const LoadOptions& opts,
                                               const LlamaFlavor& flavor) {
  TextConfig c = read_text_config(dir, flavor.defaults);
  return std::make_unique<LlamaForCausalLM>(dir, opts, std::move(c), flavor);
}

void register_llama_models() {
  LlamaFlavor llama;
  llama.defaults.max_position_embeddings = 2048;
  register_model("llama", [llama](const std::string& dir, const LoadOptions& opts) {
    return load_llama_like(dir, opts, llama);
  });
  // Mistral is Llama with a sliding window on every layer when one is set.
  LlamaFlavor mistral;
  mistral.defaults.max_position_embeddings = 4096 * 32;
  mistral.defaults.num_key_value_heads = 8;
  mistral.defaults.sliding_window = 4096;
  mistral.defaults.window_on_all_layers = true;
  register_model("mistral", [mistral](const std::string& dir, const LoadOptions& opts) {
    return load_llama_like(dir, opts, mistral);
  });
}

}  // namespace lathe
