// The interface every language model implements, and the registry that builds
// one from a Hugging Face folder by its config.json model_type.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lathe/cache/kv_cache.h"
#include "lathe/core/array.h"
#include "lathe/nn/shard.h"

namespace lathe {

struct LoadOptions {
  // Compute dtype of the weights (e.g. float32 for reference checks on the
  // CPU). Unset: the checkpoint's own dtype.
  std::optional<Dtype> dtype;
  // Where the weights live and forward runs: weights are read on the host and
  // copied there once. Unset: the loading thread's default_device().
  std::optional<Device> device;
  // The tensor-parallel rank to build (its slices of the weights, collectives
  // through shard.comm); the default is the whole model. TensorParallelModel
  // (tensor_parallel.h) sets it for each of its ranks.
  nn::Shard shard;
};

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  // tokens: int32 [B, T]. Appends T positions to `caches` (as made by
  // make_caches) and returns float logits [B, T, vocab_size].
  virtual Array forward(const Array& tokens, KVCaches& caches) = 0;
  // One decode step (tokens [B, 1]) with its position as data: `position` is an
  // int32 scalar on the model's device equal to the caches' offset(). The
  // step's shapes and buffers then do not change from one token to the next, so
  // that a device graph recorded once replays it (engine/step_graph.h). Models
  // that cannot throw lathe::Error.
  virtual Array forward_at(const Array& tokens, KVCaches& caches, const Array& position);
  // The offset below which forward_at's work stays the same from step to step
  // (no cache reallocates, rope frequencies fixed); 0 when forward_at is not
  // supported.
  virtual int replayable_until(const KVCaches& caches) const {
    (void)caches;
    return 0;
  }
  // One cache per layer, sized for up to max_tokens positions.
  virtual KVCaches make_caches(int batch, int max_tokens) const = 0;
  // Every weight, to keep() once after loading.
  virtual std::vector<Array> weights() const = 0;
  virtual int vocab_size() const = 0;
  // The config.json model_type this model was built from.
  virtual const std::string& model_type() const = 0;
};

using ModelFactory =
    std::function<std::unique_ptr<LanguageModel>(const std::string& dir, const LoadOptions&)>;

// Registers a factory for a config.json model_type (done once per model file).
void register_model(const std::string& model_type, ModelFactory factory);
// Builds the model in `dir`; an unknown model_type is a lathe::Error listing
// the supported ones.
std::unique_ptr<LanguageModel> load_model(const std::string& dir, const LoadOptions& opts = {});
std::vector<std::string> supported_model_types();

}  // namespace lathe
