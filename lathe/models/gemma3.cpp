// Gemma 3 text (Gemma3ForCausalLM, model_type gemma3_text) and the language
// model of Gemma3ForConditionalGeneration folders (gemma3: text_config and a
// language_model weight prefix). Names follow transformers' modeling_gemma3.py.
#include <cmath>

#include "lathe/models/decoder.h"
#include "lathe/ops/device.h"
#include "lathe/nn/attention.h"
#include "lathe/nn/linear.h"
#include "lathe/nn/mlp.h"
#include "lathe/nn/norm.h"
#include "lathe/nn/rope.h"
#include "lathe/ops/elementwise.h"

namespace lathe {

namespace {

// Gemma3TextConfig's defaults (real multimodal folders omit most of them).
ConfigDefaults gemma3_defaults() {
  ConfigDefaults d;
  d.vocab_size = 262208;
  d.num_attention_heads = 8;
  d.num_key_value_heads = 4;
  d.head_dim = 256;
  d.max_position_embeddings = 131072;
  d.rope_theta = 1000000.0;
  d.tie_word_embeddings = true;
  d.hidden_act = "gelu_pytorch_tanh";
  d.gemma_layers = true;
  d.sliding_window = 4096;
  d.sliding_window_pattern = 6;
  d.rope_local_base_freq = 10000.0;
  d.query_pre_attn_scalar = 256;
  return d;
}

class Gemma3DecoderLayer {
 public:
  Gemma3DecoderLayer(const nn::Weights& w, const std::string& prefix, const TextConfig& c,
                     int layer, const nn::Shard& shard)
      : input_layernorm_(norm(w, prefix + ".input_layernorm", c)),
        self_attn_(w, prefix + ".self_attn", attention_spec(c, layer), shard),
        post_attention_layernorm_(norm(w, prefix + ".post_attention_layernorm", c)),
        pre_feedforward_layernorm_(norm(w, prefix + ".pre_feedforward_layernorm", c)),
        mlp_(w, prefix + ".mlp", c.hidden_size, c.intermediate_size, false,
             nn::parse_activation(c.hidden_act, c.path), shard),
        post_feedforward_layernorm_(norm(w, prefix + ".post_feedforward_layernorm", c)),
        sliding_(c.is_sliding(layer)) {}

  Array operator()(const Array& hidden_states, KVCache& cache, const nn::RotaryEmbedding& global,
                   const nn::RotaryEmbedding& local, StepPosition* at) const {
    Array h = input_layernorm_(hidden_states);
    h = self_attn_(h, cache, sliding_ ? local : global, at);
    // residual + post_norm(h), one kernel each.
    Array residual = post_attention_layernorm_(h, hidden_states);
    h = pre_feedforward_layernorm_(residual);
    h = mlp_(h);
    return post_feedforward_layernorm_(h, residual);
  }

  std::vector<Array> parameters() const {
    std::vector<Array> out;
    for (const nn::RMSNorm* n : {&input_layernorm_, &post_attention_layernorm_,
                                 &pre_feedforward_layernorm_, &post_feedforward_layernorm_}) {
      out.push_back(n->weight());
    }
    for (auto& p : {self_attn_.parameters(), mlp_.parameters()}) {
      out.insert(out.end(), p.begin(), p.end());
    }
    return out;
  }

  bool takes_step_positions() const { return self_attn_.takes_step_positions(); }

 private:
  // Gemma's norms scale by (1 + w).
  static nn::RMSNorm norm(const nn::Weights& w, const std::string& name, const TextConfig& c) {
    return nn::RMSNorm(w, name, c.hidden_size, float(c.rms_norm_eps), true);
  }

  static nn::AttentionSpec attention_spec(const TextConfig& c, int layer) {
    nn::AttentionSpec s;
    s.hidden_size = c.hidden_size;
    s.num_heads = c.num_attention_heads;
    s.num_kv_heads = c.num_key_value_heads;
    s.head_dim = c.head_dim;
    s.scale = static_cast<float>(1.0 / std::sqrt(c.query_pre_attn_scalar));
    s.qkv_bias = c.attention_bias;
    s.o_bias = c.attention_bias;
    s.window = c.is_sliding(layer) ? c.sliding_window : 0;
    if (c.attn_logit_softcapping) s.logit_softcap = static_cast<float>(*c.attn_logit_softcapping);
    s.qk_norm = nn::AttentionSpec::QkNorm::gemma_rms;
    s.norm_eps = static_cast<float>(c.rms_norm_eps);
    return s;
  }

  nn::RMSNorm input_layernorm_;
  nn::Attention self_attn_;
  nn::RMSNorm post_attention_layernorm_;
  nn::RMSNorm pre_feedforward_layernorm_;
  nn::GatedMLP mlp_;
  nn::RMSNorm post_feedforward_layernorm_;
  bool sliding_;
};

// The folder's weights with the language model under "model." and its head
// at "lm_head." whichever layout transformers saved.
nn::Weights language_model_weights(const std::string& dir, const TextConfig& c,
                                   const LoadOptions& opts) {
  nn::Weights w = open_weights(dir, c, opts);
  if (w.contains("model.language_model.embed_tokens.weight")) {  // transformers 4.52+
    w.rename_prefix("model.language_model.", "model.");
  } else if (w.contains("language_model.model.embed_tokens.weight")) {
    w.rename_prefix("language_model.model.", "model.");
    w.rename_prefix("language_model.lm_head.", "lm_head.");
  }
  return w;
}

class Gemma3ForCausalLM : public DecoderModel {
 public:
  Gemma3ForCausalLM(const std::string& dir, const LoadOptions& opts, TextConfig c)
      : DecoderModel(std::move(c), opts),
        // transformers' Gemma3ForConditionalGeneration (gemma3 folders) returns
        // lm_head's logits without final_logit_softcapping; only the text-only
        // Gemma3ForCausalLM caps them. (Released Gemma 3 checkpoints set none.)
        final_logit_softcapping_(config_.model_type == "gemma3" ? std::nullopt
                                                                : config_.final_logit_softcapping),
        weights_in_(language_model_weights(dir, config_, opts)),
        embed_tokens_(weights_in_, "model.embed_tokens", config_.vocab_size, config_.hidden_size,
                      opts.shard),
        norm_(weights_in_, "model.norm", config_.hidden_size, float(config_.rms_norm_eps), true),
        rotary_emb_(config_.rope.at("full_attention"), config_.head_dim,
                    config_.max_position_embeddings),
        rotary_emb_local_(config_.rope.at("sliding_attention"), config_.head_dim,
                          config_.max_position_embeddings) {
    for (int i = 0; i < config_.num_hidden_layers; ++i) {
      layers_.emplace_back(weights_in_, "model.layers." + std::to_string(i), config_, i,
                           opts.shard);
      add_weights(layers_.back().parameters());
    }
    if (!config_.tie_word_embeddings) {
      lm_head_.emplace(weights_in_, "lm_head", config_.hidden_size, config_.vocab_size, false,
                       nn::LinearSplit::gathered_columns(opts.shard, config_.vocab_size));
      add_weights(lm_head_->parameters());
    }
    add_weights(embed_tokens_.parameters());
    add_weights({norm_.weight()});
    // sqrt(hidden_size) rounded to the embeddings' dtype, as transformers does.
    embed_scale_ = astype(Array(static_cast<float>(std::sqrt(double(config_.hidden_size)))),
                          embed_tokens_.dtype());
    // On the GPU it lives there once (a host scalar would be copied over at every step).
    if (device_ != Device::cpu) embed_scale_ = to_device(*embed_scale_, device_);
    add_weights({*embed_scale_});
  }

 private:
  bool takes_step_positions(int seq_len) const override {
    return rotary_emb_.fixed_up_to(seq_len) && rotary_emb_local_.fixed_up_to(seq_len) &&
           layers_.front().takes_step_positions();
  }

  Array run(const Array& tokens, KVCaches& caches, StepPosition* at) override {
    DeviceScope on_device(device_);
    const int seq_len = caches[0]->offset() + static_cast<int>(tokens.shape(1));
    rotary_emb_.prepare(seq_len);
    rotary_emb_local_.prepare(seq_len);
    Array hidden_states = embed_tokens_(tokens_on_device(tokens)) * *embed_scale_;
    for (size_t i = 0; i < layers_.size(); ++i) {
      hidden_states = layers_[i](hidden_states, *caches[i], rotary_emb_, rotary_emb_local_, at);
    }
    hidden_states = norm_(hidden_states);
    Array logits = astype(
        lm_head_ ? (*lm_head_)(hidden_states) : embed_tokens_.as_linear(hidden_states), float32);
    if (final_logit_softcapping_) {
      const float cap = static_cast<float>(*final_logit_softcapping_);
      logits = tanh(logits / cap) * cap;
    }
    return logits;
  }

  std::optional<double> final_logit_softcapping_;
  nn::Weights weights_in_;
  nn::Embedding embed_tokens_;
  std::vector<Gemma3DecoderLayer> layers_;
  nn::RMSNorm norm_;
  std::optional<nn::Linear> lm_head_;
  nn::RotaryEmbedding rotary_emb_;        // global (full-attention) layers
  nn::RotaryEmbedding rotary_emb_local_;  // sliding-window layers
  std::optional<Array> embed_scale_;
};

std::unique_ptr<LanguageModel> load_gemma3(const std::string& dir, const LoadOptions& opts) {
  TextConfig c = read_text_config(dir, gemma3_defaults());
  if (c.bidirectional_attention) {
    throw Error(
        "[load_model] " + c.path +
        ": use_bidirectional_attention (an embedding model) is not supported for generation");
  }
  return std::make_unique<Gemma3ForCausalLM>(dir, opts, std::move(c));
}

}  // namespace

void register_gemma3_models() {
  register_model("gemma3_text", load_gemma3);
  register_model("gemma3", load_gemma3);
}

}  // namespace lathe
