// WordPiece: greedy longest-match-first subwords with a continuation prefix.
#include <unordered_map>

#include "lathe/core/error.h"
#include "lathe/text/components.h"
#include "lathe/text/utf8.h"
#include "lathe/text/word_cache.h"

namespace lathe::text {

namespace {

class WordPiece : public Model {
 public:
  WordPiece(std::unordered_map<std::string, int32_t> vocab, std::string unk, std::string prefix,
            size_t max_chars)
      : vocab_(std::move(vocab)),
        unk_(std::move(unk)),
        prefix_(std::move(prefix)),
        max_chars_(max_chars) {
    for (auto& [t, id] : vocab_) vocab_r_[id] = t;
  }

  void tokenize(const std::string& w, std::vector<int32_t>& out) const override {
    if (cache_.lookup(w, out)) return;
    size_t first = out.size();
    greedy(w, out);
    cache_.store(w, out, first);
  }

 private:
  void greedy(const std::string& w, std::vector<int32_t>& out) const {
    size_t nchars = 0;
    for (size_t i = 0; i < w.size(); ++i)
      if ((static_cast<unsigned char>(w[i]) & 0xC0) != 0x80) ++nchars;
    if (nchars > max_chars_) {
      out.push_back(unk_id());
      return;
    }
    size_t first = out.size();
    size_t start = 0;
    std::string sub;
    while (start < w.size()) {
      size_t end = w.size();
      int32_t found = -1;
      while (start < end) {
        sub.clear();
        if (start > 0) sub = prefix_;
        sub.append(w, start, end - start);
        auto it = vocab_.find(sub);
        if (it != vocab_.end()) {
          found = it->second;
          break;
        }
        --end;
        while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
      }
      if (found < 0) {
        out.resize(first);
        out.push_back(unk_id());
        return;
      }
      out.push_back(found);
      start = end;
    }
  }

 public:
  std::optional<int32_t> token_to_id(const std::string& t) const override {
    auto it = vocab_.find(t);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* id_to_token(int32_t id) const override {
    auto it = vocab_r_.find(id);
    return it == vocab_r_.end() ? nullptr : &it->second;
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  int32_t unk_id() const {
    auto it = vocab_.find(unk_);
    if (it == vocab_.end())
      throw Error("[tokenizer] WordPiece unk_token '" + unk_ + "' is not in the vocabulary");
    return it->second;
  }

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<int32_t, std::string> vocab_r_;
  std::string unk_, prefix_;
  size_t max_chars_;
  WordCache cache_;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(const Json& j, const JsonPath& at) {
  const Json& v = require(j, at, "vocab");
  if (!v.is_object()) (at / "vocab").fail("expected an object of token: id");
  std::unordered_map<std::string, int32_t> vocab;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX)
      (at / "vocab" / it.key()).fail("expected a non-negative 32-bit id");
    vocab[it.key()] = static_cast<int32_t>(it.value().get<int64_t>());
  }
  int64_t max_chars = 100;
  if (j.contains("max_input_chars_per_word") && !j["max_input_chars_per_word"].is_null())
    max_chars = get_int(j, at, "max_input_chars_per_word");
  if (max_chars < 0) (at / "max_input_chars_per_word").fail("must not be negative");
  return std::make_unique<WordPiece>(std::move(vocab), get_string_or(j, at, "unk_token", "[UNK]"),
                                     get_string_or(j, at, "continuing_subword_prefix", "##"),
                                     static_cast<size_t>(max_chars));
}

}  // namespace lathe::text
