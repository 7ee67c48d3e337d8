// The Jinja lexer: splits a template into text and tag tokens, applying whitespace control
// ({%- -%}, {{- -}}, {%+ +%}) and transformers' trim_blocks / lstrip_blocks settings.
#pragma once

#include <string>
#include <vector>

namespace lathe::jinja {

enum class TokenType {
  data,         // template text, already whitespace-controlled
  var_begin,    // {{
  var_end,      // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,  // value is the decoded literal
  integer,
  floating,
  op,  // operators and punctuation
  eof,
};

struct Token {
  TokenType type;
  std::string value;
  int line;
  int column;
};

// Throws lathe::Error "[jinja] syntax error at line L, column C: ..." on malformed input.
std::vector<Token> tokenize(const std::string& source);

[[noreturn]] void syntax_error(int line, int column, const std::string& message);

}  // namespace lathe::jinja
