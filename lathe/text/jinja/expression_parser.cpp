// Expression parsing for the Jinja parser, following jinja2's grammar and precedence.
#include "lathe/text/jinja/expression_parser.h"

#include <cstdlib>

namespace lathe::jinja {

bool ExpressionParser::tuple_end(const std::set<std::string>& extra_ends) const {
  const Token& t = cur();
  if (t.type == TokenType::var_end || t.type == TokenType::block_end || t.type == TokenType::eof) {
    return true;
  }
  if (t.type == TokenType::op && (t.value == ")" || t.value == "]" || t.value == "}")) {
    return true;
  }
  return t.type == TokenType::name && extra_ends.count(t.value);
}

ExprPtr ExpressionParser::parse_tuple(bool with_condexpr, const std::set<std::string>& extra_ends,
                                      bool explicit_parens) {
  int line = cur().line;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) expect_op(",");
    if (tuple_end(extra_ends)) break;
    items.push_back(parse_expression(with_condexpr));
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple && items.size() == 1) return std::move(items[0]);
  if (items.empty() && !explicit_parens) fail("Expected an expression, got " + describe(cur()));
  auto t = make(ExprKind::tuple, line);
  t->args = std::move(items);
  return t;
}

ExprPtr ExpressionParser::parse_expression(bool with_condexpr) {
  DepthGuard guard(this);
  ExprPtr e = parse_or();
  if (!with_condexpr) return e;
  while (is_name("if")) {
    int line = cur().line;
    next();
    auto c = make(ExprKind::condition, line);
    c->args.push_back(parse_or());
    c->args.push_back(std::move(e));
    c->args.push_back(skip_name("else") ? parse_expression(true) : nullptr);
    e = std::move(c);
  }
  return e;
}

ExprPtr ExpressionParser::binary(const std::string& op, ExprPtr l, ExprPtr r, int line) {
  auto e = make(ExprKind::binary, line);
  e->name = op;
  e->args.push_back(std::move(l));
  e->args.push_back(std::move(r));
  return e;
}

ExprPtr ExpressionParser::parse_or() {
  ExprPtr l = parse_and();
  while (is_name("or")) {
    int line = cur().line;
    next();
    l = binary("or", std::move(l), parse_and(), line);
  }
  return l;
}

ExprPtr ExpressionParser::parse_and() {
  ExprPtr l = parse_not();
  while (is_name("and")) {
    int line = cur().line;
    next();
    l = binary("and", std::move(l), parse_not(), line);
  }
  return l;
}

ExprPtr ExpressionParser::parse_not() {
  if (is_name("not")) {
    DepthGuard guard(this);
    auto e = make(ExprKind::unary, cur().line);
    next();
    e->name = "not";
    e->args.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr ExpressionParser::parse_compare() {
  int line = cur().line;
  ExprPtr first = parse_math1();
  ExprPtr cmp;
  while (true) {
    std::string op;
    if (cur().type == TokenType::op &&
        (cur().value == "==" || cur().value == "!=" || cur().value == "<" || cur().value == ">" ||
         cur().value == "<=" || cur().value == ">=")) {
      op = cur().value;
      next();
    } else if (is_name("in")) {
      op = "in";
      next();
    } else if (is_name("not") && peek().type == TokenType::name && peek().value == "in") {
      op = "not in";
      next();
      next();
    } else {
      break;
    }
    if (!cmp) {
      cmp = make(ExprKind::compare, line);
      cmp->args.push_back(std::move(first));
    }
    cmp->ops.push_back(op);
    cmp->args.push_back(parse_math1());
  }
  return cmp ? std::move(cmp) : std::move(first);
}

ExprPtr ExpressionParser::parse_math1() {
  ExprPtr l = parse_concat();
  while (is_op("+") || is_op("-")) {
    std::string op = cur().value;
    int line = cur().line;
    next();
    l = binary(op, std::move(l), parse_concat(), line);
  }
  return l;
}

ExprPtr ExpressionParser::parse_concat() {
  ExprPtr l = parse_math2();
  while (is_op("~")) {
    int line = cur().line;
    next();
    l = binary("~", std::move(l), parse_math2(), line);
  }
  return l;
}

ExprPtr ExpressionParser::parse_math2() {
  ExprPtr l = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    std::string op = cur().value;
    int line = cur().line;
    next();
    l = binary(op, std::move(l), parse_pow(), line);
  }
  return l;
}

ExprPtr ExpressionParser::parse_pow() {
  ExprPtr l = parse_unary(true);
  while (is_op("**")) {
    int line = cur().line;
    next();
    l = binary("**", std::move(l), parse_unary(true), line);
  }
  return l;
}

ExprPtr ExpressionParser::parse_unary(bool with_filter) {
  DepthGuard guard(this);
  ExprPtr e;
  if (is_op("-") || is_op("+")) {
    e = make(ExprKind::unary, cur().line);
    e->name = cur().value;
    next();
    e->args.push_back(parse_unary(false));
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  if (with_filter) e = parse_filter_expr(std::move(e));
  return e;
}

ExprPtr ExpressionParser::parse_primary() {
  const Token& t = cur();
  int line = t.line;
  if (t.type == TokenType::name) {
    auto e = make(ExprKind::constant, line);
    const std::string& n = t.value;
    if (n == "true" || n == "True") {
      e->value = Value(true);
    } else if (n == "false" || n == "False") {
      e->value = Value(false);
    } else if (n == "none" || n == "None") {
      e->value = Value::none();
    } else {
      e->kind = ExprKind::name;
      e->name = n;
      if (!names_seen_.empty()) names_seen_.back().insert(n);
    }
    next();
    return e;
  }
  if (t.type == TokenType::string) {
    std::string s;
    while (cur().type == TokenType::string) {
      s += cur().value;
      next();
    }
    auto e = make(ExprKind::constant, line);
    e->value = Value(std::move(s));
    return e;
  }
  if (t.type == TokenType::integer || t.type == TokenType::floating) {
    auto e = make(ExprKind::constant, line);
    e->value = t.type == TokenType::integer
                   ? Value(static_cast<int64_t>(std::strtoll(t.value.c_str(), nullptr, 10)))
                   : Value(std::strtod(t.value.c_str(), nullptr));
    next();
    return e;
  }
  if (skip_op("(")) {
    ExprPtr e = parse_tuple(true, {}, true);
    expect_op(")");
    return e;
  }
  if (skip_op("[")) {
    auto e = make(ExprKind::list, line);
    while (!is_op("]")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("]")) break;
      e->args.push_back(parse_expression(true));
    }
    next();
    return e;
  }
  if (skip_op("{")) {
    auto e = make(ExprKind::dict, line);
    while (!is_op("}")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("}")) break;
      e->args.push_back(parse_expression(true));
      expect_op(":");
      e->args.push_back(parse_expression(true));
    }
    next();
    return e;
  }
  fail("unexpected " + describe(t));
}

ExprPtr ExpressionParser::parse_postfix(ExprPtr e) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      e = parse_subscript(std::move(e));
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

ExprPtr ExpressionParser::parse_filter_expr(ExprPtr e) {
  while (true) {
    if (is_op("|")) {
      next();
      e = parse_filter(std::move(e));
    } else if (is_name("is")) {
      e = parse_test(std::move(e));
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

ExprPtr ExpressionParser::parse_subscript(ExprPtr base) {
  DepthGuard guard(this);
  int line = cur().line;
  if (skip_op(".")) {
    if (cur().type == TokenType::name) {
      auto e = make(ExprKind::getattr, line);
      e->args.push_back(std::move(base));
      e->name = cur().value;
      next();
      return e;
    }
    if (cur().type != TokenType::integer) fail("expected name or number after '.'");
    auto e = make(ExprKind::getitem, line);
    e->args.push_back(std::move(base));
    auto idx = make(ExprKind::constant, line);
    idx->value = Value(static_cast<int64_t>(std::strtoll(cur().value.c_str(), nullptr, 10)));
    e->args.push_back(std::move(idx));
    next();
    return e;
  }
  expect_op("[");
  std::vector<ExprPtr> items;
  while (!is_op("]")) {
    if (!items.empty()) expect_op(",");
    items.push_back(parse_subscribed());
    if (!is_op(",")) break;
  }
  expect_op("]");
  if (items.empty()) fail("expected a subscript");
  auto e = make(ExprKind::getitem, line);
  e->args.push_back(std::move(base));
  if (items.size() == 1) {
    e->args.push_back(std::move(items[0]));
  } else {
    auto t = make(ExprKind::tuple, line);
    t->args = std::move(items);
    e->args.push_back(std::move(t));
  }
  return e;
}

ExprPtr ExpressionParser::parse_subscribed() {
  int line = cur().line;
  ExprPtr start;
  if (!is_op(":")) {
    start = parse_expression(true);
    if (!is_op(":")) return start;
  }
  next();
  auto s = make(ExprKind::slice, line);
  s->args.push_back(std::move(start));
  auto bound_end = [&] { return is_op("]") || is_op(",") || is_op(":"); };
  s->args.push_back(bound_end() ? nullptr : parse_expression(true));
  ExprPtr step;
  if (skip_op(":") && !is_op("]") && !is_op(",")) step = parse_expression(true);
  s->args.push_back(std::move(step));
  return s;
}

void ExpressionParser::parse_call_args(Expr& e) {
  expect_op("(");
  bool first = true;
  while (!is_op(")")) {
    if (!first) expect_op(",");
    first = false;
    if (is_op(")")) break;
    if (skip_op("*")) {
      e.star_args = parse_expression(true);
    } else if (skip_op("**")) {
      e.star_kwargs = parse_expression(true);
    } else if (cur().type == TokenType::name && peek().type == TokenType::op &&
               peek().value == "=") {
      std::string key = cur().value;
      next();
      next();
      e.keywords.emplace_back(key, parse_expression(true));
    } else {
      if (!e.keywords.empty()) fail("positional argument after keyword argument");
      e.args.push_back(parse_expression(true));
    }
  }
  next();
}

ExprPtr ExpressionParser::parse_call(ExprPtr fn) {
  DepthGuard guard(this);
  auto e = make(ExprKind::call, cur().line);
  e->args.push_back(std::move(fn));
  parse_call_args(*e);
  return e;
}

std::string ExpressionParser::dotted_name() {
  std::string n = expect_name();
  while (is_op(".") && peek().type == TokenType::name) {
    next();
    n += "." + expect_name();
  }
  return n;
}

// A filter applied to `input` (null for filter blocks and set blocks).
ExprPtr ExpressionParser::parse_filter(ExprPtr input) {
  DepthGuard guard(this);
  auto e = make(ExprKind::filter, cur().line);
  e->name = dotted_name();
  e->args.push_back(std::move(input));
  if (is_op("(")) parse_call_args(*e);
  return e;
}

ExprPtr ExpressionParser::parse_test(ExprPtr input) {
  DepthGuard guard(this);
  auto e = make(ExprKind::test, cur().line);
  next();
  e->negated = skip_name("not");
  e->name = dotted_name();
  e->args.push_back(std::move(input));
  const Token& t = cur();
  if (is_op("(")) {
    parse_call_args(*e);
  } else if ((t.type == TokenType::name || t.type == TokenType::string ||
              t.type == TokenType::integer || t.type == TokenType::floating || is_op("[") ||
              is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) fail("You cannot chain multiple tests with is");
    e->args.push_back(parse_postfix(parse_primary()));
  }
  return e;
}

}  // namespace lathe::jinja
