// The statement half of the Jinja parser: text, output, and block tags (for, if, set, macro,
// call, filter, with, break, continue) with jinja2's error messages for unknown tags.
#include "lathe/text/jinja/parser.h"

#include <set>

#include "lathe/text/jinja/expression_parser.h"

namespace lathe::jinja {

namespace {

class Parser : public ExpressionParser {
 public:
  using ExpressionParser::ExpressionParser;

  Template parse() {
    Template t;
    t.body = parse_body({});
    return t;
  }

 private:
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

  int loop_depth_ = 0;
  std::vector<std::string> open_blocks_;
};

}  // namespace

Template parse_template(const std::string& source) { return Parser(tokenize(source)).parse(); }

}  // namespace lathe::jinja
