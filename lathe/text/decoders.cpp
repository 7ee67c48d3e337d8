// Decoders: token strings back to text (Replace, ByteFallback, Fuse, Strip, Metaspace,
// WordPiece, BPEDecoder, Sequence; ByteLevel lives in byte_level.cpp).
#include "lathe/text/components.h"
#include "lathe/text/regex.h"
#include "lathe/text/utf8.h"

namespace lathe::text {

namespace {

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const std::string& pattern, std::string content, const std::string& where)
      : regex_(pattern, where), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::pair<size_t, size_t>> m;
    for (auto& t : tokens) {
      regex_.find_all(t, m);
      if (m.empty()) continue;
      std::string out;
      size_t last = 0;
      for (auto [b, e] : m) {
        out.append(t, last, b - last);
        out += content_;
        last = e;
      }
      out.append(t, last, std::string::npos);
      t.swap(out);
    }
  }

 private:
  Regex regex_;
  std::string content_;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    auto flush = [&]() {
      if (pending.empty()) return;
      if (find_invalid_utf8(pending) == std::string::npos) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (auto& t : tokens) {
      int hi = -1, lo = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        hi = hex_digit(t[3]);
        lo = hex_digit(t[4]);
      }
      if (hi >= 0 && lo >= 0) {
        pending.push_back(static_cast<char>(hi * 16 + lo));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (auto& t : tokens) all += t;
    tokens.clear();
    tokens.push_back(std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::vector<char32_t> cs;
      for (size_t i = 0; i < t.size();) cs.push_back(next_codepoint(t, i));
      size_t b = 0, e = cs.size();
      for (size_t i = 0; i < start_ && i < cs.size() && cs[i] == content_; ++i) b = i + 1;
      for (size_t i = 0; i < stop_ && i < cs.size() && cs[cs.size() - 1 - i] == content_; ++i)
        e = cs.size() - 1 - i;
      std::string out;
      for (size_t i = b; i < e; ++i) append_utf8(out, cs[i]);
      t.swap(out);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool never) : rep_(to_utf8(replacement)), never_(never) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string out;
      size_t last = 0, pos;
      while ((pos = t.find(rep_, last)) != std::string::npos) {
        out.append(t, last, pos - last);
        // Every replacement in the first token is dropped, as tokenizers does.
        if (i != 0 || never_) out += ' ';
        last = pos + rep_.size();
      }
      out.append(t, last, std::string::npos);
      t.swap(out);
    }
  }

 private:
  std::string rep_;
  bool never_;
};

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) {
          t.erase(0, prefix_.size());
        } else {
          t.insert(0, " ");
        }
      }
      if (cleanup_) {
        replace_all(t, " .", ".");
        replace_all(t, " ?", "?");
        replace_all(t, " !", "!");
        replace_all(t, " ,", ",");
        replace_all(t, " ' ", "'");
        replace_all(t, " n't", "n't");
        replace_all(t, " 'm", "'m");
        replace_all(t, " do not", " don't");
        replace_all(t, " 's", "'s");
        replace_all(t, " 've", "'ve");
        replace_all(t, " 're", "'re");
      }
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      if (!suffix_.empty()) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

std::string pattern_of(const Json& j, const JsonPath& at) {
  const Json& p = require(j, at, "pattern");
  if (p.is_object() && p.contains("String") && p["String"].is_string())
    return Regex::escape(p["String"].get<std::string>());
  if (p.is_object() && p.contains("Regex") && p["Regex"].is_string())
    return p["Regex"].get<std::string>();
  (at / "pattern").fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

size_t get_count(const Json& j, const JsonPath& at, const char* key) {
  int64_t v = get_int(j, at, key);
  if (v < 0) (at / key).fail("must not be negative");
  return static_cast<size_t>(v);
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& j, const JsonPath& at) {
  if (j.is_null()) return nullptr;
  std::string type = get_type(j, at);
  if (type == "Sequence") {
    const Json& list = require(j, at, "decoders");
    if (!list.is_array()) (at / "decoders").fail("expected an array");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_decoder(list[i], (at / "decoders")[i]);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  if (type == "ByteLevel") return make_byte_level_decoder();
  if (type == "Replace")
    return std::make_unique<ReplaceDecoder>(pattern_of(j, at), get_string(j, at, "content"),
                                            (at / "pattern").describe());
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip")
    return std::make_unique<StripDecoder>(get_char(j, at, "content"), get_count(j, at, "start"),
                                          get_count(j, at, "stop"));
  if (type == "Metaspace") {
    std::string scheme = get_string_or(j, at, "prepend_scheme", "always");
    bool never = scheme == "never";
    if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean() &&
        !j["add_prefix_space"].get<bool>())
      never = true;
    return std::make_unique<MetaspaceDecoder>(get_char(j, at, "replacement"), never);
  }
  if (type == "WordPiece")
    return std::make_unique<WordPieceDecoder>(get_string_or(j, at, "prefix", "##"),
                                              get_bool_or(j, at, "cleanup", true));
  if (type == "BPEDecoder")
    return std::make_unique<BpeDecoder>(get_string_or(j, at, "suffix", "</w>"));
  (at / "type").fail("unsupported decoder type '" + type + "'");
}

}  // namespace lathe::text
