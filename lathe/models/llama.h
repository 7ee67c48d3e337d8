// The Llama decoder, also the shape of Mistral, Qwen2 and Qwen3: they differ
// only in the small switches of LlamaFlavor.
#pragma once

#include <memory>
#include <string>

#include "lathe/models/config.h"
#include "lathe/models/model.h"

namespace lathe {

struct LlamaFlavor {
  ConfigDefaults defaults;
  bool qk_norm = false;   // Qwen3: RMSNorm over each head of q and k before rope
  bool qkv_bias = false;  // Qwen2: q/k/v projections always have biases
};

std::unique_ptr<LanguageModel> load_llama_like(const std::string& dir, const LoadOptions& opts,
                                               const LlamaFlavor& flavor);

// Registers "llama" and "mistral".
void register_llama_models();

}  // namespace lathe
