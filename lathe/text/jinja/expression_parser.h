// The token stream and expression grammar of the Jinja parser (jinja2's precedence:
// conditional, or, and, not, comparisons, + -, ~, * / // %, **, unary, postfix, filters, tests).
#pragma once

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "lathe/text/jinja/ast.h"
#include "lathe/text/jinja/lexer.h"

namespace lathe::jinja {

// Nesting beyond this is rejected instead of overflowing the stack.
constexpr int kMaxParseDepth = 200;

class ExpressionParser {
 public:
  explicit ExpressionParser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

 protected:
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  [[noreturn]] void fail(const std::string& msg) const {
    syntax_error(cur().line, cur().column, msg);
  }
  bool is_op(const char* op) const { return cur().type == TokenType::op && cur().value == op; }
  bool is_name(const char* n) const { return cur().type == TokenType::name && cur().value == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::eof: return "end of template";
      case TokenType::block_end: return "end of statement block";
      case TokenType::var_end: return "end of print statement";
      case TokenType::data: return "template data";
      default: return "'" + t.value + "'";
    }
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(std::string("expected token '") + op + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != TokenType::name) fail("expected a name, got " + describe(cur()));
    std::string n = cur().value;
    next();
    return n;
  }
  void expect_block_end() {
    if (cur().type != TokenType::block_end) {
      fail("expected end of statement block, got " + describe(cur()));
    }
    next();
  }
  struct DepthGuard {
    ExpressionParser* p;
    explicit DepthGuard(ExpressionParser* parser) : p(parser) {
      if (++p->depth_ > kMaxParseDepth) p->fail("template nested too deeply");
    }
    ~DepthGuard() { --p->depth_; }
  };

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  bool tuple_end(const std::set<std::string>& extra_ends) const;
  // Comma-separated expressions: one expression, or a tuple when a comma appears.
  ExprPtr parse_tuple(bool with_condexpr, const std::set<std::string>& extra_ends,
                      bool explicit_parens = false);
  ExprPtr parse_expression(bool with_condexpr);
  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int line);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_filter_expr(ExprPtr e);
  ExprPtr parse_subscript(ExprPtr base);
  ExprPtr parse_subscribed();
  void parse_call_args(Expr& e);
  ExprPtr parse_call(ExprPtr fn);
  std::string dotted_name();
  ExprPtr parse_filter(ExprPtr input);
  ExprPtr parse_test(ExprPtr input);

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  // Names referenced inside each macro body being parsed (varargs, kwargs, caller).
  std::vector<std::set<std::string>> names_seen_;
};

}  // namespace lathe::jinja
