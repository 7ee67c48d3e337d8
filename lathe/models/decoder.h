// What the decoder-only language models share: their LanguageModel
// bookkeeping (caches per layer, weights, vocabulary), input checks, and
// opening a folder's weights with its quantization.
#pragma once

#include <string>
#include <vector>

#include "lathe/models/config.h"
#include "lathe/models/model.h"
#include "lathe/nn/weights.h"

namespace lathe {

class DecoderModel : public LanguageModel {
 public:
  // Check their arguments, then run().
  Array forward(const Array& tokens, KVCaches& caches) final;
  Array forward_at(const Array& tokens, KVCaches& caches, const Array& position) final;
  // The caches' step limit, when the model's own parts allow positions as data up to it.
  int replayable_until(const KVCaches& caches) const final;
  // A standard cache per full-attention layer and a rotating one (of the
  // config's sliding_window) per sliding layer.
  KVCaches make_caches(int batch, int max_tokens) const override;
  std::vector<Array> weights() const override { return weights_; }
  int vocab_size() const override { return config_.vocab_size; }
  const std::string& model_type() const override { return model_type_; }
  const TextConfig& config() const { return config_; }

 protected:
  explicit DecoderModel(TextConfig config);
  // Checks that the config splits across opts.shard.size ranks
  // (check_tensor_parallel) before any weight is bound; runs on opts.device
  // (unset: the default device).
  DecoderModel(TextConfig config, const LoadOptions& opts);
  // The forward pass of tokens [B, T] at the caches' offset; with `at`, the position is data.
  virtual Array run(const Array& tokens, KVCaches& caches, StepPosition* at) = 0;
  // Whether the model's own parts (rope frequencies, attention) take positions as data for
  // every forward up to `seq_len` positions.
  virtual bool takes_step_positions(int seq_len) const = 0;
  // Validates forward()'s arguments: integer tokens [B, T] with T >= 1, and
  // one cache per layer.
  void check_forward(const Array& tokens, const KVCaches& caches) const;
  // Also one token per row and an int32 scalar position on the model's device.
  void check_forward_at(const Array& tokens, const KVCaches& caches, const Array& position) const;
  // The tokens on the model's device (an explicit copy when they are elsewhere).
  Array tokens_on_device(const Array& tokens) const;
  void add_weights(const std::vector<Array>& w) {
    weights_.insert(weights_.end(), w.begin(), w.end());
  }

  TextConfig config_;
  std::string model_type_;
  std::vector<Array> weights_;
  // Where the weights live; forward runs under a DeviceScope of it, so that
  // caches, masks and positions are made there too.
  Device device_ = Device::cpu;
};

// Throws lathe::Error("[tp] ...") naming the config and the count when the
// model does not split across `ranks`: query heads must divide evenly, kv
// heads divide evenly or be replicated (ranks a multiple of them, see
// nn::head_part), and every rank needs some vocabulary and intermediate
// features.
void check_tensor_parallel(const TextConfig& config, int ranks);

// The folder's weights, converted to opts.dtype when set, with the config's
// quantization.
nn::Weights open_weights(const std::string& dir, const TextConfig& config, const LoadOptions& opts);

}  // namespace lathe
