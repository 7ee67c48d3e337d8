// The parts of a loaded tokenizer, shared by tokenizer.cpp and the directory loader.
#pragma once

#include <memory>

#include "lathe/text/added_tokens.h"
#include "lathe/text/components.h"
#include "lathe/text/tokenizer.h"

namespace lathe::text {

struct Tokenizer::Impl {
  std::string source;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  SpecialTokens special;
  // Set when tokenizer_config's add_bos_token / add_eos_token replace the post-processor.
  bool override_specials = false;

  void encode(std::string_view text, bool add_special_tokens, std::vector<int32_t>& out) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;
  const std::string* id_to_token(int32_t id) const;
};

// Parses tokenizer.json text into an Impl (no config cascade).
std::shared_ptr<Tokenizer::Impl> parse_tokenizer_json(const std::string& text,
                                                      const std::string& name);
// Applies the configuration cascade of a model directory to impl.
void apply_model_configs(Tokenizer::Impl& impl, const std::string& dir);

}  // namespace lathe::text
