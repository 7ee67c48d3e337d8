// Qwen3 (q/k RMSNorm per head before rope) and Qwen2 (biases on q/k/v): the
// Llama decoder with their switches and transformers' config defaults.
#include "lathe/models/llama.h"

namespace lathe {

namespace {

ConfigDefaults qwen_defaults() {
  ConfigDefaults d;
  d.max_position_embeddings = 32768;
  d.sliding_window = 4096;
  d.qwen_sliding = true;
  return d;
}

}  // namespace

void register_qwen_models() {
  LlamaFlavor qwen3{qwen_defaults(), /*qk_norm=*/true, /*qkv_bias=*/false};
  qwen3.defaults.head_dim = 128;
  register_model("qwen3", [qwen3](const std::string& dir, const LoadOptions& opts) {
    return load_llama_like(dir, opts, qwen3);
  });
  LlamaFlavor qwen2{qwen_defaults(), /*qk_norm=*/false, /*qkv_bias=*/true};
  register_model("qwen2", [qwen2](const std::string& dir, const LoadOptions& opts) {
    return load_llama_like(dir, opts, qwen2);
  });
}

}  // namespace lathe
