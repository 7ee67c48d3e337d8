// Pre-tokenizers: Split, Metaspace, Whitespace(Split), BERT, Digits, Punctuation, Sequence.
#include <functional>

#include "lathe/text/components.h"
#include "lathe/text/regex.h"
#include "lathe/text/utf8.h"

namespace lathe::text {

namespace {

using CharPredicate = bool (*)(char32_t);

// Rewrites each piece still to tokenize through fn; pieces already tokens pass unchanged.
template <typename Fn>
void split_pieces(std::vector<Piece>& pieces, Fn&& fn) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  for (auto& p : pieces) {
    if (p.token >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    fn(p, out);
  }
  pieces.swap(out);
}

// Every character matching pred is its own segment, as tokenizers' char patterns give.
std::vector<Segment> char_segments(const std::string& s, CharPredicate pred) {
  std::vector<Segment> segs;
  if (s.empty()) return {{0, 0, false}};
  size_t last = 0;
  for (size_t i = 0; i < s.size();) {
    size_t b = i;
    if (pred(next_codepoint(s, i))) {
      if (last < b) segs.push_back({last, b, false});
      segs.push_back({b, i, true});
      last = i;
    }
  }
  if (last < s.size()) segs.push_back({last, s.size(), false});
  return segs;
}

std::vector<Segment> regex_segments(const std::string& s, const Regex& re, bool invert) {
  if (s.empty()) return {{0, 0, invert}};
  thread_local std::vector<std::pair<size_t, size_t>> m;
  re.find_all(s, m);
  std::vector<Segment> segs;
  segs.reserve(m.size() * 2 + 1);
  size_t prev = 0;
  for (auto [b, e] : m) {
    if (prev != b) segs.push_back({prev, b, invert});
    segs.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != s.size()) segs.push_back({prev, s.size(), invert});
  return segs;
}

SplitBehavior parse_behavior(const Json& j, const JsonPath& at, const char* key, const char* def) {
  std::string b = get_string_or(j, at, key, def);
  if (b == "Removed" || b == "removed") return SplitBehavior::kRemoved;
  if (b == "Isolated" || b == "isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious" || b == "merged_with_previous")
    return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext" || b == "merged_with_next") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous" || b == "contiguous") return SplitBehavior::kContiguous;
  (at / key).fail("unknown split behavior '" + b + "'");
}

class SplitPre : public PreTokenizer {
 public:
  SplitPre(const Json& j, const JsonPath& at)
      : regex_(pattern_of(j, at), (at / "pattern").describe()),
        behavior_(parse_behavior(j, at, "behavior", "Isolated")),
        invert_(get_bool_or(j, at, "invert", false)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      apply_split(p, regex_segments(p.text, regex_, invert_), behavior_, out);
    });
  }
  static std::string pattern_of(const Json& j, const JsonPath& at) {
    const Json& p = require(j, at, "pattern");
    if (p.is_object() && p.contains("String") && p["String"].is_string())
      return Regex::escape(p["String"].get<std::string>());
    if (p.is_object() && p.contains("Regex") && p["Regex"].is_string())
      return p["Regex"].get<std::string>();
    (at / "pattern").fail("expected {\"String\": ...} or {\"Regex\": ...}");
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class CharSplit : public PreTokenizer {
 public:
  CharSplit(CharPredicate pred, SplitBehavior behavior) : pred_(pred), behavior_(behavior) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      apply_split(p, char_segments(p.text, pred_), behavior_, out);
    });
  }

 private:
  CharPredicate pred_;
  SplitBehavior behavior_;
};

bool is_punc(char32_t c) { return is_ascii_punctuation(c) || is_punctuation(c); }

class BertPre : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    CharSplit(is_whitespace, SplitBehavior::kRemoved).pre_tokenize(pieces);
    CharSplit(is_punc, SplitBehavior::kIsolated).pre_tokenize(pieces);
  }
};

// The regex \w+|[^\w\s]+ kept, everything else dropped.
class WhitespacePre : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      const std::string& s = p.text;
      size_t i = 0;
      int run = 0;  // 0 none, 1 word, 2 other
      size_t run_start = 0;
      auto flush = [&](size_t end) {
        if (run) out.push_back({s.substr(run_start, end - run_start), p.orig + run_start, -1});
        run = 0;
      };
      while (i < s.size()) {
        size_t b = i;
        char32_t c = next_codepoint(s, i);
        int kind = is_word_char(c) ? 1 : is_whitespace(c) ? 0 : 2;
        if (kind != run) {
          flush(b);
          run = kind;
          run_start = b;
        }
      }
      flush(s.size());
    });
  }
};

class CharDelimiter : public PreTokenizer {
 public:
  explicit CharDelimiter(char32_t d) : d_(d) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      std::vector<Segment> segs;
      size_t last = 0;
      for (size_t i = 0; i < p.text.size();) {
        size_t b = i;
        if (next_codepoint(p.text, i) == d_) {
          if (last < b) segs.push_back({last, b, false});
          segs.push_back({b, i, true});
          last = i;
        }
      }
      if (last < p.text.size()) segs.push_back({last, p.text.size(), false});
      apply_split(p, segs, SplitBehavior::kRemoved, out);
    });
  }

 private:
  char32_t d_;
};

enum class Prepend { kAlways, kFirst, kNever };

class Metaspace : public PreTokenizer {
 public:
  Metaspace(const Json& j, const JsonPath& at) {
    replacement_ = get_char(j, at, "replacement");
    rep_ = to_utf8(replacement_);
    std::string scheme = get_string_or(j, at, "prepend_scheme", "always");
    if (scheme == "always") {
      scheme_ = Prepend::kAlways;
    } else if (scheme == "first") {
      scheme_ = Prepend::kFirst;
    } else if (scheme == "never") {
      scheme_ = Prepend::kNever;
    } else {
      (at / "prepend_scheme").fail("unknown prepend scheme '" + scheme + "'");
    }
    if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean() &&
        !j["add_prefix_space"].get<bool>()) {
      if (scheme_ != Prepend::kNever && j.contains("prepend_scheme"))
        (at / "add_prefix_space").fail("add_prefix_space does not match declared prepend_scheme");
      scheme_ = Prepend::kNever;
    }
    split_ = get_bool_or(j, at, "split", true);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      Piece q{std::string(), p.orig, -1};
      q.text.reserve(p.text.size() + 8);
      for (char c : p.text) {
        if (c == ' ') {
          q.text += rep_;
        } else {
          q.text += c;
        }
      }
      bool starts = q.text.compare(0, rep_.size(), rep_) == 0;
      if (!starts && (scheme_ == Prepend::kAlways || (scheme_ == Prepend::kFirst && p.orig == 0)))
        q.text.insert(0, rep_);
      if (!split_) {
        if (!q.text.empty()) out.push_back(std::move(q));
        return;
      }
      std::vector<Segment> segs;
      size_t last = 0, pos = 0;
      while ((pos = q.text.find(rep_, last)) != std::string::npos) {
        if (last < pos) segs.push_back({last, pos, false});
        segs.push_back({pos, pos + rep_.size(), true});
        last = pos + rep_.size();
      }
      if (last < q.text.size() || segs.empty()) segs.push_back({last, q.text.size(), false});
      apply_split(q, segs, SplitBehavior::kMergedWithNext, out);
    });
  }

 private:
  char32_t replacement_;
  std::string rep_;
  Prepend scheme_ = Prepend::kAlways;
  bool split_ = true;
};

class SequencePre : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const JsonPath& at) {
  if (j.is_null()) return nullptr;
  std::string type = get_type(j, at);
  if (type == "Sequence") {
    const Json& list = require(j, at, "pretokenizers");
    if (!list.is_array()) (at / "pretokenizers").fail("expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_pre_tokenizer(list[i], (at / "pretokenizers")[i]);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePre>(std::move(parts));
  }
  if (type == "Split") return std::make_unique<SplitPre>(j, at);
  if (type == "ByteLevel")
    return make_byte_level_pre_tokenizer(get_bool_or(j, at, "add_prefix_space", true),
                                         get_bool_or(j, at, "use_regex", true));
  if (type == "Metaspace") return std::make_unique<Metaspace>(j, at);
  if (type == "Whitespace") return std::make_unique<WhitespacePre>();
  if (type == "WhitespaceSplit")
    return std::make_unique<CharSplit>(is_whitespace, SplitBehavior::kRemoved);
  if (type == "BertPreTokenizer") return std::make_unique<BertPre>();
  if (type == "Digits")
    return std::make_unique<CharSplit>(is_numeric, get_bool_or(j, at, "individual_digits", false)
                                                       ? SplitBehavior::kIsolated
                                                       : SplitBehavior::kContiguous);
  if (type == "Punctuation")
    return std::make_unique<CharSplit>(is_punc, parse_behavior(j, at, "behavior", "Isolated"));
  if (type == "CharDelimiterSplit")
    return std::make_unique<CharDelimiter>(get_char(j, at, "delimiter"));
  (at / "type").fail("unsupported pre_tokenizer type '" + type + "'");
}

}  // namespace lathe::text
