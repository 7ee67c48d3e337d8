// Recursive-descent parser following jinja2's grammar: statements, then expressions from
// conditional expressions down through or/and/not/compare/+-/~/*//%/**/unary/postfix/filters.
#include "lathe/text/jinja/parser.h"

#include <set>

#include "lathe/text/jinja/lexer.h"

namespace lathe::jinja {

namespace {

// Nesting beyond this is rejected instead of overflowing the stack.
constexpr int kMaxDepth = 200;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Template parse() {
    Template t;
    t.body = parse_body({});
    return t;
  }

 private:
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
    Parser* p;
    explicit DepthGuard(Parser* parser) : p(parser) {
      if (++p->depth_ > kMaxDepth) p->fail("template nested too deeply");
    }
    ~DepthGuard() { --p->depth_; }
  };

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // Parses statements until a block tag named in `ends`; leaves that tag's name current.
  Body parse_body(const std::set<std::string>& ends) {
    DepthGuard guard(this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == TokenType::eof) {
        if (!ends.empty()) {
          std::string want;
          for (const auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
          fail("unexpected end of template; jinja was looking for the following tags: " + want);
        }
        return body;
      }
      if (t.type == TokenType::data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::text;
        s->line = t.line;
        s->text = t.value;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TokenType::var_begin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::output;
        s->line = t.line;
        s->expr = parse_tuple(true, {});
        if (cur().type != TokenType::var_end) {
          fail("expected end of print statement, got " + describe(cur()));
        }
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::block_begin) {
        next();
        if (cur().type != TokenType::name) fail("tag name expected");
        if (ends.count(cur().value)) return body;
        body.push_back(parse_statement(ends));
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  StmtPtr new_stmt(StmtKind kind) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = cur().line;
    return s;
  }

  StmtPtr parse_statement(const std::set<std::string>& ends) {
    std::string tag = cur().value;
    static const std::set<std::string> blocks = {"for",  "if",     "set", "macro",
                                                 "call", "filter", "with"};
    if (blocks.count(tag)) {
      open_blocks_.push_back(tag);
      StmtPtr s = parse_block_statement(tag);
      open_blocks_.pop_back();
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      auto s = new_stmt(tag == "break" ? StmtKind::break_ : StmtKind::continue_);
      next();
      expect_block_end();
      return s;
    }
    static const std::set<std::string> unsupported = {"include", "import", "from",      "extends",
                                                      "block",   "do",     "autoescape"};
    if (unsupported.count(tag)) fail("the '" + tag + "' tag is not supported");
    std::string msg = "Encountered unknown tag '" + tag + "'.";
    if (!ends.empty()) {
      std::string want;
      for (const auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
      msg += " Jinja was looking for the following tags: " + want + ".";
    }
    if (!open_blocks_.empty()) {
      msg += " The innermost block that needs to be closed is '" + open_blocks_.back() + "'.";
    }
    fail(msg);
  }

  StmtPtr parse_block_statement(const std::string& tag) {
    if (tag == "for") return parse_for();
    if (tag == "if") return parse_if();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") return parse_filter_block();
    return parse_with();
  }

  // Consumes `{% name %}` that closes a block (the name is current).
  void end_tag() {
    next();
    expect_block_end();
  }

  StmtPtr parse_for() {
    auto s = new_stmt(StmtKind::for_);
    next();
    s->target = parse_assign_target(false);
    if (!skip_name("in")) fail("expected 'in', got " + describe(cur()));
    s->expr = parse_tuple(false, {"recursive"});
    if (skip_name("if")) s->loop_filter = parse_expression(true);
    if (is_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    ++loop_depth_;
    s->body = parse_body({"endfor", "else"});
    --loop_depth_;
    if (is_name("else")) {
      end_tag();
      s->else_body = parse_body({"endfor"});
    }
    end_tag();
    return s;
  }

  StmtPtr parse_if() {
    auto s = new_stmt(StmtKind::if_);
    next();
    s->conditions.push_back(parse_tuple(false, {}));
    expect_block_end();
    while (true) {
      s->bodies.push_back(parse_body({"elif", "else", "endif"}));
      if (is_name("elif")) {
        next();
        s->conditions.push_back(parse_tuple(false, {}));
        expect_block_end();
        continue;
      }
      if (is_name("else")) {
        end_tag();
        s->else_body = parse_body({"endif"});
      }
      end_tag();
      return s;
    }
  }

  StmtPtr parse_set() {
    auto s = new_stmt(StmtKind::set);
    next();
    s->target = parse_assign_target(true);
    if (skip_op("=")) {
      s->expr = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    s->kind = StmtKind::set_block;
    if (s->target->kind != ExprKind::name) fail("a block set needs a plain name");
    parse_filter_chain(s->filters);
    expect_block_end();
    s->body = parse_body({"endset"});
    end_tag();
    return s;
  }

  void parse_filter_chain(std::vector<ExprPtr>& filters) {
    while (skip_op("|")) filters.push_back(parse_filter(nullptr));
  }

  void parse_params(std::vector<Param>& params) {
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      Param p;
      p.name = expect_name();
      if (skip_op("=")) p.default_value = parse_expression(true);
      params.push_back(std::move(p));
    }
    next();
  }

  // Parses a macro-like body and records which implicit names it refers to.
  Body parse_callable_body(Stmt& s, const std::string& end) {
    names_seen_.emplace_back();
    int saved_loops = loop_depth_;
    loop_depth_ = 0;
    Body body = parse_body({end});
    loop_depth_ = saved_loops;
    s.uses_varargs = names_seen_.back().count("varargs") > 0;
    s.uses_kwargs = names_seen_.back().count("kwargs") > 0;
    s.uses_caller = names_seen_.back().count("caller") > 0;
    names_seen_.pop_back();
    end_tag();
    return body;
  }

  StmtPtr parse_macro() {
    auto s = new_stmt(StmtKind::macro);
    next();
    s->name = expect_name();
    parse_params(s->params);
    expect_block_end();
    s->body = parse_callable_body(*s, "endmacro");
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = new_stmt(StmtKind::call_block);
    next();
    if (is_op("(")) parse_params(s->params);
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::call) fail("expected a call after 'call'");
    expect_block_end();
    s->name = "caller";
    s->body = parse_callable_body(*s, "endcall");
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = new_stmt(StmtKind::filter_block);
    next();
    s->filters.push_back(parse_filter(nullptr));
    parse_filter_chain(s->filters);
    expect_block_end();
    s->body = parse_body({"endfilter"});
    end_tag();
    return s;
  }

  StmtPtr parse_with() {
    auto s = new_stmt(StmtKind::with);
    next();
    while (cur().type != TokenType::block_end) {
      if (!s->assignments.empty()) expect_op(",");
      std::string n = expect_name();
      expect_op("=");
      s->assignments.emplace_back(n, parse_expression(true));
    }
    expect_block_end();
    s->body = parse_body({"endwith"});
    end_tag();
    return s;
  }

  ExprPtr parse_assign_target(bool allow_namespace) {
    int line = cur().line;
    std::vector<ExprPtr> names;
    bool tuple = false;
    bool paren = skip_op("(");
    while (true) {
      std::string n = expect_name();
      if (allow_namespace && !paren && names.empty() && is_op(".")) {
        next();
        auto e = make(ExprKind::getattr, line);
        auto base = make(ExprKind::name, line);
        base->name = n;
        e->args.push_back(std::move(base));
        e->name = expect_name();
        return e;
      }
      auto e = make(ExprKind::name, line);
      e->name = n;
      names.push_back(std::move(e));
      if (!skip_op(",")) break;
      tuple = true;
      if (cur().type != TokenType::name) break;
    }
    if (paren) expect_op(")");
    if (!tuple && !paren) return std::move(names[0]);
    if (!tuple && names.size() == 1) return std::move(names[0]);
    auto t = make(ExprKind::tuple, line);
    t->args = std::move(names);
    return t;
  }

  bool tuple_end(const std::set<std::string>& extra_ends) const {
    const Token& t = cur();
    if (t.type == TokenType::var_end || t.type == TokenType::block_end ||
        t.type == TokenType::eof) {
      return true;
    }
    if (t.type == TokenType::op && (t.value == ")" || t.value == "]" || t.value == "}")) {
      return true;
    }
    return t.type == TokenType::name && extra_ends.count(t.value);
  }

  // Comma-separated expressions: one expression, or a tuple when a comma appears.
  ExprPtr parse_tuple(bool with_condexpr, const std::set<std::string>& extra_ends,
                      bool explicit_parens = false) {
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

  ExprPtr parse_expression(bool with_condexpr) {
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

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int line) {
    auto e = make(ExprKind::binary, line);
    e->name = op;
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      next();
      l = binary("or", std::move(l), parse_and(), line);
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      next();
      l = binary("and", std::move(l), parse_not(), line);
    }
    return l;
  }

  ExprPtr parse_not() {
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

  ExprPtr parse_compare() {
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

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().value;
      int line = cur().line;
      next();
      l = binary(op, std::move(l), parse_concat(), line);
    }
    return l;
  }

  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      int line = cur().line;
      next();
      l = binary("~", std::move(l), parse_math2(), line);
    }
    return l;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().value;
      int line = cur().line;
      next();
      l = binary(op, std::move(l), parse_pow(), line);
    }
    return l;
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      next();
      l = binary("**", std::move(l), parse_unary(true), line);
    }
    return l;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary() {
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
      e->value = t.type == TokenType::integer ? Value(static_cast<int64_t>(std::stoll(t.value)))
                                              : Value(std::stod(t.value));
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

  ExprPtr parse_postfix(ExprPtr e) {
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

  ExprPtr parse_filter_expr(ExprPtr e) {
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

  ExprPtr parse_subscript(ExprPtr base) {
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
      idx->value = Value(static_cast<int64_t>(std::stoll(cur().value)));
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

  ExprPtr parse_subscribed() {
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

  void parse_call_args(Expr& e) {
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

  ExprPtr parse_call(ExprPtr fn) {
    DepthGuard guard(this);
    auto e = make(ExprKind::call, cur().line);
    e->args.push_back(std::move(fn));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().type == TokenType::name) {
      next();
      n += "." + expect_name();
    }
    return n;
  }

  // A filter applied to `input` (null for filter blocks and set blocks).
  ExprPtr parse_filter(ExprPtr input) {
    DepthGuard guard(this);
    auto e = make(ExprKind::filter, cur().line);
    e->name = dotted_name();
    e->args.push_back(std::move(input));
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  ExprPtr parse_test(ExprPtr input) {
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

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::set<std::string>> names_seen_;
  std::vector<std::string> open_blocks_;
};

}  // namespace

Template parse_template(const std::string& source) { return Parser(tokenize(source)).parse(); }

}  // namespace lathe::jinja
