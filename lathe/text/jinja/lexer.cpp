// Tokenizes a template the way jinja2's lexer does with trim_blocks and lstrip_blocks on:
// text between tags is stripped per the tags' whitespace markers before it becomes a token.
#include "lathe/text/jinja/lexer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "lathe/core/error.h"
#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

void syntax_error(int line, int column, const std::string& message) {
  throw Error("[jinja] syntax error at line " + std::to_string(line) + ", column " +
              std::to_string(column) + ": " + message);
}

namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_dec(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    size_t n = src_.size();
    while (pos_ < n) {
      size_t p = find_tag(pos_);
      if (p == std::string::npos) {
        emit_data(pos_, src_.substr(pos_));
        break;
      }
      char kind = src_[p + 1];
      size_t q = p + 2;
      char sign = (q < n && (src_[q] == '-' || src_[q] == '+')) ? src_[q] : 0;
      size_t raw_end = kind == '%' ? match_raw_begin(q) : 0;
      emit_data(pos_, strip_text(src_.substr(pos_, p - pos_), sign, kind != '{'));
      if (raw_end) {
        lex_raw(p, raw_end);
      } else if (kind == '#') {
        lex_comment(p, q + (sign ? 1 : 0));
      } else {
        push(kind == '{' ? TokenType::var_begin : TokenType::block_begin, "", p);
        lex_tag(q + (sign ? 1 : 0), kind == '{');
      }
    }
    push(TokenType::eof, "", n);
    return std::move(tokens_);
  }

 private:
  std::pair<int, int> where(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }
  [[noreturn]] void fail(size_t offset, const std::string& msg) const {
    auto [line, col] = where(offset);
    syntax_error(line, col, msg);
  }
  void push(TokenType type, std::string value, size_t offset) {
    auto [line, col] = where(offset);
    tokens_.push_back({type, std::move(value), line, col});
  }
  void emit_data(size_t offset, std::string text) {
    if (!text.empty()) push(TokenType::data, std::move(text), offset);
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  // `{%-` strips all whitespace before the tag; otherwise lstrip_blocks removes the spaces
  // and tabs between the start of the line and a block or comment tag (not `{{`, not `{%+`).
  std::string strip_text(std::string text, char sign, bool lstrip_kind) const {
    if (sign == '-') {
      size_t end = text.size();
      while (end > 0 && is_ws(text[end - 1])) --end;
      text.resize(end);
    } else if (sign != '+' && lstrip_kind) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && l_pos < text.size() &&
          std::all_of(text.begin() + l_pos, text.end(), is_ws)) {
        text.resize(l_pos);
      }
    }
    return text;
  }

  size_t skip_ws(size_t i) const {
    while (i < src_.size() && is_ws(src_[i])) ++i;
    return i;
  }
  bool at(size_t i, const char* s) const { return src_.compare(i, std::strlen(s), s) == 0; }

  // Matches the end of a block-like tag at i (`+%}`, `-%}` plus whitespace, or `%}` plus
  // one newline under trim_blocks); returns the offset after it, or 0.
  size_t match_end(size_t i, char c1, bool trim) const {
    char end2[3] = {c1, '}', 0};
    if (at(i, "+") && at(i + 1, end2)) return i + 3;
    if (at(i, "-") && at(i + 1, end2)) return skip_ws(i + 3);
    if (at(i, end2)) return (trim && i + 2 < src_.size() && src_[i + 2] == '\n') ? i + 3 : i + 2;
    return 0;
  }

  size_t match_raw_begin(size_t q) const {
    size_t i = q;
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
    i = skip_ws(i);
    if (!at(i, "raw") || (i + 3 < src_.size() && is_name_char(src_[i + 3]))) return 0;
    i = skip_ws(i + 3);
    if (at(i, "-%}")) return skip_ws(i + 3);
    if (at(i, "%}")) return i + 2;
    return 0;
  }

  void finish(size_t end) {
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  void lex_raw(size_t begin, size_t content) {
    finish(content);
    for (size_t i = content; i + 1 < src_.size(); ++i) {
      if (!at(i, "{%")) continue;
      size_t j = i + 2;
      char sign = (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) ? src_[j] : 0;
      j = skip_ws(j + (sign ? 1 : 0));
      if (!at(j, "endraw")) continue;
      size_t end = match_end(skip_ws(j + 6), '%', true);
      if (!end) continue;
      emit_data(content, strip_text(src_.substr(content, i - content), sign, true));
      finish(end);
      return;
    }
    fail(begin, "Missing end of raw directive");
  }

  void lex_comment(size_t begin, size_t body) {
    for (size_t i = body; i < src_.size(); ++i) {
      size_t end = match_end(i, '#', true);
      if (end) {
        finish(end);
        return;
      }
    }
    fail(begin, "Missing end of comment tag");
  }

  void lex_tag(size_t i, bool is_var) {
    std::string balance;
    size_t n = src_.size();
    while (true) {
      if (balance.empty()) {
        size_t end = is_var ? (at(i, "-}}")  ? skip_ws(i + 3)
                               : at(i, "}}") ? i + 2
                                             : 0)
                            : match_end(i, '%', true);
        if (end) {
          push(is_var ? TokenType::var_end : TokenType::block_end, "", i);
          finish(end);
          return;
        }
      }
      if (i < n && is_ws(src_[i])) {
        i = skip_ws(i);
        continue;
      }
      if (i >= n)
        fail(i, is_var ? "unexpected end of template, expected '}}'"
                       : "unexpected end of template, expected '%}'");
      char c = src_[i];
      if (is_dec(c)) {
        i = lex_number(i);
      } else if (is_name_start(c)) {
        size_t j = i;
        while (j < n && is_name_char(src_[j])) ++j;
        push(TokenType::name, src_.substr(i, j - i), i);
        i = j;
      } else if (c == '\'' || c == '"') {
        i = lex_string(i);
      } else {
        i = lex_operator(i, balance);
      }
    }
  }

  size_t scan_digits(size_t i) const {
    while (i < src_.size() &&
           (is_dec(src_[i]) || (src_[i] == '_' && i + 1 < src_.size() && is_dec(src_[i + 1])))) {
      ++i;
    }
    return i;
  }

  size_t lex_number(size_t i) {
    size_t n = src_.size();
    size_t j = scan_digits(i);
    bool is_float = false;
    bool after_dot = i > 0 && src_[i - 1] == '.';
    if (!after_dot) {
      if (j + 1 < n && src_[j] == '.' && is_dec(src_[j + 1])) {
        j = scan_digits(j + 1);
        is_float = true;
      }
      if (j < n && (src_[j] == 'e' || src_[j] == 'E')) {
        size_t k = j + 1;
        if (k < n && (src_[k] == '+' || src_[k] == '-')) ++k;
        if (k < n && is_dec(src_[k])) {
          j = scan_digits(k);
          is_float = true;
        }
      }
    }
    std::string text;
    for (size_t k = i; k < j; ++k) {
      if (src_[k] != '_') text.push_back(src_[k]);
    }
    if (!is_float && (text.size() > 19 || (text.size() == 19 && text > "9223372036854775807"))) {
      fail(i, "integer literal too large: " + text);
    }
    push(is_float ? TokenType::floating : TokenType::integer, text, i);
    return j;
  }

  size_t lex_string(size_t i) {
    char quote = src_[i];
    std::string out;
    size_t j = i + 1;
    while (true) {
      if (j >= src_.size()) fail(i, "unexpected end of string literal");
      char c = src_[j];
      if (c == quote) break;
      if (c != '\\') {
        out.push_back(c);
        ++j;
        continue;
      }
      if (j + 1 >= src_.size()) fail(i, "unexpected end of string literal");
      j = decode_escape(j + 1, out);
    }
    push(TokenType::string, std::move(out), i);
    return j + 1;
  }

  // Python's unicode-escape decoding of one escape; j points after the backslash.
  size_t decode_escape(size_t j, std::string& out) {
    char e = src_[j];
    auto hex = [&](size_t from, int count) -> size_t {
      char32_t cp = 0;
      for (int k = 0; k < count; ++k) {
        if (from + k >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[from + k]))) {
          fail(from, "truncated \\x/\\u/\\U escape in string literal");
        }
        char h = src_[from + k];
        cp = cp * 16 + (is_dec(h) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      if (cp > 0x10ffff) fail(from, "illegal Unicode character in string literal");
      utf8_append(out, cp);
      return from + count;
    };
    switch (e) {
      case '\n': return j + 1;
      case '\\': out.push_back('\\'); return j + 1;
      case '\'': out.push_back('\''); return j + 1;
      case '"': out.push_back('"'); return j + 1;
      case 'a': out.push_back('\a'); return j + 1;
      case 'b': out.push_back('\b'); return j + 1;
      case 'f': out.push_back('\f'); return j + 1;
      case 'n': out.push_back('\n'); return j + 1;
      case 'r': out.push_back('\r'); return j + 1;
      case 't': out.push_back('\t'); return j + 1;
      case 'v': out.push_back('\v'); return j + 1;
      case 'x': return hex(j + 1, 2);
      case 'u': return hex(j + 1, 4);
      case 'U': return hex(j + 1, 8);
      default: break;
    }
    if (e >= '0' && e <= '7') {
      char32_t cp = 0;
      size_t k = j;
      while (k < j + 3 && k < src_.size() && src_[k] >= '0' && src_[k] <= '7') {
        cp = cp * 8 + (src_[k++] - '0');
      }
      utf8_append(out, cp);
      return k;
    }
    out.push_back('\\');
    return j;
  }

  size_t lex_operator(size_t i, std::string& balance) {
    static const char* two[] = {"**", "//", "==", "!=", ">=", "<="};
    for (const char* op : two) {
      if (at(i, op)) {
        push(TokenType::op, op, i);
        return i + 2;
      }
    }
    char c = src_[i];
    if (!std::strchr("+-/*%~[](){}><=.:|,;", c)) {
      fail(i, std::string("unexpected char '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(i, std::string("unexpected '") + c + "'");
      if (balance.back() != c) {
        fail(i, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      }
      balance.pop_back();
    }
    push(TokenType::op, std::string(1, c), i);
    return i + 1;
  }

  std::string src_;
  std::vector<size_t> line_starts_{0};
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) {
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      src.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      src.push_back(source[i]);
    }
  }
  // jinja2's keep_trailing_newline=False drops a single trailing newline.
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src)).run();
}

}  // namespace lathe::jinja
