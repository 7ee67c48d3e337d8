// Shared LanguageModel plumbing of the decoder-only models.
#include "lathe/models/decoder.h"

#include <algorithm>
#include <limits>

#include "lathe/cache/rotating_kv_cache.h"
#include "lathe/nn/attention.h"
#include "lathe/ops/device.h"

namespace lathe {

DecoderModel::DecoderModel(TextConfig config)
    : config_(std::move(config)), model_type_(config_.model_type) {}

DecoderModel::DecoderModel(TextConfig config, const LoadOptions& opts)
    : DecoderModel(std::move(config)) {
  check_tensor_parallel(config_, opts.shard.size);
  device_ = opts.device.value_or(default_device());
}

Array DecoderModel::tokens_on_device(const Array& tokens) const {
  return tokens.device() == device_ ? tokens : to_device(tokens, device_);
}

void check_tensor_parallel(const TextConfig& c, int ranks) {
  if (ranks < 1) throw Error("[tp] the number of ranks must be >= 1, got " + std::to_string(ranks));
  if (ranks == 1) return;
  const std::string where = "[tp] " + c.path + ": ";
  if (auto problem = nn::head_split_problem(c.num_attention_heads, c.num_key_value_heads, ranks)) {
    throw Error(where + *problem);
  }
  // The vocabulary splits in runs of ceil(vocab / ranks): each rank needs one.
  const int64_t chunk = (int64_t(c.vocab_size) + ranks - 1) / ranks;
  if (chunk * (ranks - 1) >= c.vocab_size || c.intermediate_size < ranks) {
    throw Error(where + "vocab_size " + std::to_string(c.vocab_size) + " or intermediate_size " +
                std::to_string(c.intermediate_size) + " is too small to split across " +
                std::to_string(ranks) + " ranks");
  }
}

KVCaches DecoderModel::make_caches(int batch, int max_tokens) const {
  if (batch <= 0 || max_tokens < 0) {
    throw Error("[make_caches] batch " + std::to_string(batch) +
                " must be positive and max_tokens " + std::to_string(max_tokens) + " >= 0");
  }
  KVCaches caches;
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    if (config_.is_sliding(i)) {
      caches.push_back(std::make_unique<RotatingKVCache>(config_.sliding_window, max_tokens));
    } else {
      caches.push_back(std::make_unique<StandardKVCache>(max_tokens));
    }
  }
  return caches;
}

void DecoderModel::check_forward(const Array& tokens, const KVCaches& caches) const {
  const std::string op = "[" + model_type_ + ".forward] ";
  tokens.check_valid("forward");
  if (tokens.ndim() != 2 || tokens.shape(1) < 1 || tokens.shape(0) < 1) {
    throw Error(op + "tokens must be [batch, tokens] with at least one token, got " +
                shape_str(tokens.shape()));
  }
  if (!tokens.dtype().is_integral()) {
    throw Error(op + "tokens must be integers, got " + tokens.dtype().name());
  }
  if (static_cast<int>(caches.size()) != config_.num_hidden_layers) {
    throw Error(op + "expected " + std::to_string(config_.num_hidden_layers) +
                " caches (one per layer, from make_caches), got " + std::to_string(caches.size()));
  }
  for (const auto& c : caches) {
    if (!c) throw Error(op + "a cache is null");
  }
}

void DecoderModel::check_forward_at(const Array& tokens, const KVCaches& caches,
                                    const Array& position) const {
  check_forward(tokens, caches);
  const std::string op = "[" + model_type_ + ".forward_at] ";
  if (tokens.shape(1) != 1) {
    throw Error(op + "decodes one token per row, got " + shape_str(tokens.shape()));
  }
  position.check_valid("forward_at");
  if (position.ndim() != 0 || position.dtype() != int32 || position.device() != device_) {
    throw Error(op + "the position must be an int32 scalar on " + device_name(device_) + ", got " +
                shape_str(position.shape()) + " " + position.dtype().name() + " on " +
                device_name(position.device()));
  }
}

Array DecoderModel::forward(const Array& tokens, KVCaches& caches) {
  check_forward(tokens, caches);
  return run(tokens, caches, nullptr);
}

Array DecoderModel::forward_at(const Array& tokens, KVCaches& caches, const Array& position) {
  check_forward_at(tokens, caches, position);
  StepPosition at(position);
  return run(tokens, caches, &at);
}

int DecoderModel::replayable_until(const KVCaches& caches) const {
  if (caches.empty()) return 0;
  int limit = std::numeric_limits<int>::max();
  for (const auto& c : caches) limit = std::min(limit, c->step_limit());
  return limit > 0 && takes_step_positions(limit) ? limit : 0;
}

nn::Weights open_weights(const std::string& dir, const TextConfig& config,
                         const LoadOptions& opts) {
  if (opts.dtype && !opts.dtype->is_floating()) {
    throw Error(std::string("[load_model] dtype must be floating-point, got ") +
                opts.dtype->name());
  }
  return nn::Weights::open(dir, opts.dtype, opts.device.value_or(default_device()));
}

}  // namespace lathe
