// Hugging Face compatible tokenizer: load a model directory, encode text to ids, decode ids.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lathe::text {

// What the configuration cascade decided (tokenizer_config.json, special_tokens_map.json,
// generation_config.json, config.json, in that order of precedence for token strings).
struct SpecialTokens {
  std::optional<int32_t> bos_id, pad_id, unk_id;
  // Every id that ends generation: the tokenizer's eos first, then generation_config's and
  // config.json's, without repeats.
  std::vector<int32_t> eos_ids;
  std::string bos_token, eos_token, pad_token, unk_token;
  // Whether encode(text, true) starts with bos / ends with eos.
  bool add_bos = false;
  bool add_eos = false;
};

class Tokenizer {
 public:
  // A model directory: tokenizer.json (or vocab.json + merges.txt) plus the config files.
  static Tokenizer from_dir(const std::string& dir);
  // A tokenizer.json file alone.
  static Tokenizer from_file(const std::string& path);
  // tokenizer.json text; `name` is used in error messages.
  static Tokenizer from_json(const std::string& json, const std::string& name);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(const std::string& token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special_id(int32_t id) const;
  // Model vocabulary plus added tokens.
  size_t vocab_size() const;
  const SpecialTokens& special_tokens() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace lathe::text
