// PCRE2 (UTF + UCP + JIT) behind Regex; \s is rewritten to Unicode White_Space as in Oniguruma.
#include "lathe/text/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <mutex>

#include "lathe/core/error.h"

namespace lathe::text {

namespace {

// The White_Space code points, usable both inside and outside a character class. PCRE2's
// \s differs from Oniguruma's in U+180E, so patterns get the explicit set.
constexpr const char* kSpaceRanges =
    "\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
    "\\x{205f}\\x{3000}";

std::string rewrite_spaces(const std::string& p) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[i + 1];
      if (n == 's') {
        out += in_class ? std::string(kSpaceRanges) : "[" + std::string(kSpaceRanges) + "]";
      } else if (n == 'S' && !in_class) {
        out += "[^" + std::string(kSpaceRanges) + "]";
      } else {
        out += c;
        out += n;
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

Regex::Regex(const std::string& pattern, const std::string& where)
    : impl_(std::make_unique<Impl>()) {
  std::string p = rewrite_spaces(pattern);
  int err = 0;
  PCRE2_SIZE off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                              PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    throw Error("[tokenizer] " + where + ": bad regex '" + pattern +
                "': " + reinterpret_cast<char*>(buf) + " at offset " + std::to_string(off));
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  out.clear();
  // One match block per thread, freed when the thread exits (server workers come and go).
  thread_local std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md_owner(
      pcre2_match_data_create(4, nullptr), &pcre2_match_data_free);
  pcre2_match_data* md = md_owner.get();
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t start = 0;
  uint32_t opts = PCRE2_NO_UTF_CHECK;
  while (start <= s.size()) {
    int rc = impl_->jit ? pcre2_jit_match(impl_->code, subject, s.size(), start, opts, md, nullptr)
                        : pcre2_match(impl_->code, subject, s.size(), start, opts, md, nullptr);
    if (rc < 0) {
      if (rc == PCRE2_ERROR_NOMATCH) break;
      throw Error("[tokenizer] regex match failed with PCRE2 error " + std::to_string(rc));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (e == b) {
      // Empty matches split nothing; step over one character as Oniguruma's iterator does.
      if (b >= s.size()) break;
      size_t n = 1;
      while (b + n < s.size() && (static_cast<unsigned char>(s[b + n]) & 0xC0) == 0x80) ++n;
      start = b + n;
      continue;
    }
    out.emplace_back(b, e);
    start = e;
  }
}

std::string Regex::escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-#&~ \t\n\r").find(c) != std::string_view::npos) {
      if (c == '\t') {
        out += "\\t";
        continue;
      }
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      if (c == '\r') {
        out += "\\r";
        continue;
      }
      if (c == ' ') {
        out += "\\x{20}";
        continue;
      }
      out += '\\';
    }
    out += c;
  }
  return out;
}

}  // namespace lathe::text
