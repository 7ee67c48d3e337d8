// Added tokens (special or not): matched atomically in the raw or normalized text before
// pre-tokenization, with tokenizers' single_word / lstrip / rstrip / normalized rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lathe/text/components.h"

namespace lathe::text {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

class AddedVocabulary {
 public:
  // Registers tokens as tokenizers' add_tokens does: an existing id is reused, else the next
  // free id after the model's vocabulary.
  void add(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* norm);

  // Splits text into pieces: added tokens found in the raw text, then each remaining piece
  // normalized and searched for normalized added tokens.
  void extract_and_normalize(std::string_view text, const Normalizer* norm,
                             std::vector<Piece>& out) const;

  // The added token's text for decoding (its normalized form when it has one).
  const std::string* id_to_token(int32_t id) const;
  std::optional<int32_t> token_to_id(const std::string& content) const;
  bool is_special(const std::string& token) const { return special_.count(token) > 0; }
  bool empty() const { return by_id_.empty(); }
  int32_t max_id() const;

 private:
  // A byte trie giving leftmost-longest matches.
  class Matcher {
   public:
    void clear();
    void insert(const std::string& pattern, int32_t id);
    bool empty() const { return nodes_.size() <= 1; }
    // Non-overlapping leftmost-longest matches: (start, end, id).
    void find(std::string_view s, std::vector<std::tuple<size_t, size_t, int32_t>>& out) const;

   private:
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> kids;
      int32_t value = -1;
    };
    std::vector<Node> nodes_{1};
    bool first_byte_[256] = {};
  };

  void split(const Piece& piece, const Matcher& m, std::vector<Piece>& out) const;
  void rebuild();

  std::unordered_map<std::string, int32_t> by_content_;
  std::unordered_map<int32_t, AddedToken> by_id_;
  std::unordered_map<int32_t, std::string> normalized_form_;
  std::unordered_set<std::string> special_;
  Matcher raw_, normalized_;
};

}  // namespace lathe::text
