// The stages of a Hugging Face tokenizer pipeline, each built from its tokenizer.json object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lathe/text/json_util.h"

namespace lathe::text {

// One piece of the input on its way through the pipeline. `orig` is the byte offset in the
// original input where the piece starts (only "is it 0" matters: Metaspace's "first").
// A piece already matched to an added token carries its id and is left alone.
struct Piece {
  std::string text;
  size_t orig = 0;
  int32_t token = -1;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits (and may rewrite) every piece whose token is -1; drops empty pieces.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(const std::string& word, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(const std::string& token) const = 0;
  virtual const std::string* id_to_token(int32_t id) const = 0;
  // The number of entries (what tokenizers' get_vocab_size returns).
  virtual size_t vocab_size() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids, bool add_special_tokens) const = 0;
  // Ids put before and after the sequence when special tokens are added.
  virtual void special_ids(std::vector<int32_t>& prefix, std::vector<int32_t>& suffix) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Normalizer> make_normalizer(const Json& j, const JsonPath& at);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const JsonPath& at);
std::unique_ptr<Model> make_model(const Json& j, const JsonPath& at);
std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const JsonPath& at);
std::unique_ptr<Decoder> make_decoder(const Json& j, const JsonPath& at);

// Builders used outside tokenizer.json: the vocab.json + merges.txt form.
std::unique_ptr<Model> make_bpe_from_files(const std::string& vocab_path,
                                           const std::string& merges_path);
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
std::unique_ptr<Decoder> make_byte_level_decoder();

// Splits text according to [start, end, is_match] segments and a tokenizers behaviour.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
struct Segment {
  size_t start, end;
  bool match;
};
void apply_split(const Piece& piece, const std::vector<Segment>& segments, SplitBehavior behavior,
                 std::vector<Piece>& out);

// The GPT-2 byte-to-character table (bytes_char) and its inverse (-1 for other characters).
const std::string& byte_to_unicode(unsigned char b);
int unicode_to_byte(char32_t c);

}  // namespace lathe::text
