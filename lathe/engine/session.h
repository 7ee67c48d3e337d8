// What generating from a model folder needs beside the model itself, shared by `lathe run` and
// `lathe serve`: the folder's sampling defaults, its chat template, and chat prompts as ids.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lathe/engine/sampler.h"
#include "lathe/text/tokenizer.h"

namespace lathe {

// transformers' defaults: greedy unless generation_config.json asks for sampling (then its
// temperature, top_k, top_p and min_p); its repetition_penalty either way.
SamplerConfig sampler_defaults(const std::string& model_dir);

// The folder's chat template (chat_template.jinja, chat_template.json or tokenizer_config.json's
// chat_template), or nothing when it has none.
std::optional<std::string> chat_template_of(const std::string& model_dir);

// Renders `messages` with the template (add_generation_prompt, the tokenizer's bos and eos
// strings) and encodes the text without adding special tokens: the template writes them, as
// transformers' apply_chat_template(tokenize=True) does.
std::vector<int32_t> chat_prompt_ids(const std::string& chat_template, const text::Tokenizer& tok,
                                     const nlohmann::ordered_json& messages);

}  // namespace lathe
