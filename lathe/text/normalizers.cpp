// Normalizers: Unicode forms, case, Replace, Prepend, Strip, BertNormalizer and Sequence.
#include <utf8proc.h>

#include <cstdlib>

#include "lathe/core/error.h"
#include "lathe/text/components.h"
#include "lathe/text/regex.h"
#include "lathe/text/utf8.h"

namespace lathe::text {

namespace {

bool is_ascii(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

class UnicodeForm : public Normalizer {
 public:
  explicit UnicodeForm(int options) : options_(options) {}
  void normalize(std::string& s) const override {
    if (is_ascii(s)) return;
    utf8proc_uint8_t* out = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &out,
                                      static_cast<utf8proc_option_t>(options_));
    if (n < 0)
      throw Error(std::string("[tokenizer] unicode normalization failed: ") + utf8proc_errmsg(n));
    s.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
  }

 private:
  int options_;
};

class Lowercase : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) append_lowercase(out, next_codepoint(s, i));
    s.swap(out);
  }
};

class Replace : public Normalizer {
 public:
  Replace(const Json& j, const JsonPath& at)
      : regex_(pattern_of(j, at), (at / "pattern").describe()),
        content_(get_string(j, at, "content")) {}
  void normalize(std::string& s) const override {
    std::vector<std::pair<size_t, size_t>> m;
    regex_.find_all(s, m);
    if (m.empty()) return;
    std::string out;
    size_t last = 0;
    for (auto [b, e] : m) {
      out.append(s, last, b - last);
      out += content_;
      last = e;
    }
    out.append(s, last, std::string::npos);
    s.swap(out);
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
  std::string content_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  void normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!is_whitespace(next_codepoint(s, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t i = k;
        if (!is_whitespace(next_codepoint(s, i))) break;
        e = k;
      }
    }
    s = s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class StripAccents : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      size_t b = i;
      if (!is_mark(next_codepoint(s, i))) out.append(s, b, i - b);
    }
    s.swap(out);
  }
};

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(const Json& j, const JsonPath& at)
      : clean_text_(get_bool_or(j, at, "clean_text", true)),
        chinese_(get_bool_or(j, at, "handle_chinese_chars", true)),
        lowercase_(get_bool_or(j, at, "lowercase", true)) {
    strip_accents_ = get_bool_or(j, at, "strip_accents", lowercase_);
  }
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size() + 8);
    for (size_t i = 0; i < s.size();) {
      size_t b = i;
      char32_t c = next_codepoint(s, i);
      if (clean_text_) {
        bool tab_or_newline = c == '\t' || c == '\n' || c == '\r';
        // Control characters go first, so U+0085 (a control and a space) is dropped.
        if (c == 0 || c == 0xFFFD || (!tab_or_newline && is_other(c))) continue;
        if (tab_or_newline || is_whitespace(c)) {
          out += ' ';
          continue;
        }
      }
      if (chinese_ && is_chinese_char(c)) {
        out += ' ';
        out.append(s, b, i - b);
        out += ' ';
        continue;
      }
      out.append(s, b, i - b);
    }
    if (strip_accents_) {
      UnicodeForm(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE).normalize(out);
      std::string kept;
      kept.reserve(out.size());
      for (size_t i = 0; i < out.size();) {
        size_t b = i;
        if (!is_mark_nonspacing(next_codepoint(out, i))) kept.append(out, b, i - b);
      }
      out.swap(kept);
    }
    if (lowercase_) Lowercase().normalize(out);
    s.swap(out);
  }

 private:
  bool clean_text_, chinese_, lowercase_, strip_accents_;
};

class ByteLevelNormalizer : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char b : s) out += byte_to_unicode(b);
    s.swap(out);
  }
};

class Nmt : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      size_t b = i;
      char32_t c = next_codepoint(s, i);
      if ((c >= 1 && c <= 8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F ||
          c == 0x9F)
        continue;
      if (c == 9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 ||
          (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x2581 ||
          c == 0xFEFF || c == 0xFFFD) {
        out += ' ';
        continue;
      }
      out.append(s, b, i - b);
    }
    s.swap(out);
  }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void normalize(std::string& s) const override {
    for (auto& p : parts_) p->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& j, const JsonPath& at) {
  if (j.is_null()) return nullptr;
  std::string type = get_type(j, at);
  if (type == "Sequence") {
    const Json& list = require(j, at, "normalizers");
    if (!list.is_array()) (at / "normalizers").fail("expected an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_normalizer(list[i], (at / "normalizers")[i]);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "NFC") return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (type == "NFD") return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  if (type == "NFKC")
    return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD")
    return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Replace") return std::make_unique<Replace>(j, at);
  if (type == "Prepend") return std::make_unique<Prepend>(get_string(j, at, "prepend"));
  if (type == "Strip")
    return std::make_unique<Strip>(get_bool_or(j, at, "strip_left", true),
                                   get_bool_or(j, at, "strip_right", true));
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "BertNormalizer") return std::make_unique<BertNormalizer>(j, at);
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Nmt") return std::make_unique<Nmt>();
  (at / "type").fail("unsupported normalizer type '" + type + "'");
}

}  // namespace lathe::text
