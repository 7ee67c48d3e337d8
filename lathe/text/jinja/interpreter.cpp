// Executes the syntax tree: jinja2's scoping (a fresh scope per loop iteration, per macro call
// and per `with`; `if` shares its scope), loop variables, macros, call blocks and filter blocks.
#include "lathe/text/jinja/interpreter.h"

#include "lathe/core/error.h"
#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

namespace {

struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  Value* find_local(const std::string& name) {
    for (auto& kv : vars) {
      if (kv.first == name) return &kv.second;
    }
    return nullptr;
  }
  Value* find(const std::string& name) {
    for (Scope* s = this; s; s = s->parent.get()) {
      if (Value* v = s->find_local(name)) return v;
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    if (Value* old = find_local(name)) {
      *old = std::move(v);
    } else {
      vars.emplace_back(name, std::move(v));
    }
  }
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { normal, break_, continue_ };

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options) : options_(options) { install_globals(); }

  std::string run(const Template& tmpl, const Value& context) {
    auto root = std::make_shared<Scope>();
    root->parent = globals_;
    for (const auto& [k, v] : context.entries().items) {
      if (k.is_string()) root->set(k.as_string(), v);
    }
    std::string out;
    out_ = &out;
    try {
      exec_body(tmpl.body, root);
    } catch (const RenderError& e) {
      release_closures();
      throw Error("[jinja] line " + std::to_string(line_) + ": " + e.kind + ": " + e.message);
    } catch (const Error&) {
      release_closures();
      throw;
    } catch (const std::exception& e) {
      release_closures();
      throw Error("[jinja] line " + std::to_string(line_) + ": internal error: " + e.what());
    }
    release_closures();
    return out;
  }

 private:
  void step() {
    if (++steps_ > options_.max_steps) {
      raise("RuntimeError",
            "template exceeded its step budget (" + std::to_string(options_.max_steps) + " steps)");
    }
  }

  void write(const std::string& s) {
    if (out_->size() + s.size() > options_.max_output_bytes) {
      raise("RuntimeError",
            "output exceeds " + std::to_string(options_.max_output_bytes) + " bytes");
    }
    *out_ += s;
  }

  void install_globals() {
    globals_ = std::make_shared<Scope>();
    globals_->set("range", Value::function("range", global_range));
    globals_->set("dict", Value::function("dict", global_dict));
    globals_->set("namespace", Value::function("namespace", [this](CallArgs& a) {
                    Value ns = global_namespace(a);
                    namespaces_.push_back(ns);
                    return ns;
                  }));
    globals_->set("raise_exception", Value::function("raise_exception", [](CallArgs& a) -> Value {
                    raise("TemplateError", a.get(0, "message").str());
                  }));
    globals_->set("strftime_now", Value::function("strftime_now", [this](CallArgs& a) {
                    return Value(strftime_now(a.get(0, "format"), options_.now));
                  }));
  }

  Flow exec_body(const Body& body, const ScopePtr& scope) {
    for (const auto& s : body) {
      Flow f = exec(*s, scope);
      if (f != Flow::normal) return f;
    }
    return Flow::normal;
  }

  Flow exec(const Stmt& s, const ScopePtr& scope) {
    line_ = s.line;
    switch (s.kind) {
      case StmtKind::text: write(s.text); return Flow::normal;
      case StmtKind::output: write(eval(*s.expr, scope).str()); return Flow::normal;
      case StmtKind::if_:
        for (size_t i = 0; i < s.conditions.size(); ++i) {
          if (eval(*s.conditions[i], scope).truthy()) return exec_body(s.bodies[i], scope);
        }
        return exec_body(s.else_body, scope);
      case StmtKind::for_: return exec_for(s, scope);
      case StmtKind::set: assign(*s.target, eval(*s.expr, scope), scope); return Flow::normal;
      case StmtKind::set_block: {
        Value v(capture(s.body, scope));
        for (const auto& f : s.filters) v = apply_filter_expr(*f, v, scope);
        assign(*s.target, v, scope);
        return Flow::normal;
      }
      case StmtKind::macro: scope->set(s.name, make_macro(s, scope)); return Flow::normal;
      case StmtKind::call_block: {
        const Expr& call = *s.expr;
        Value fn = eval(*call.args[0], scope);
        CallArgs args = eval_args(call, scope);
        args.keywords.emplace_back("caller", make_macro(s, scope));
        write(call_value(fn, args).str());
        return Flow::normal;
      }
      case StmtKind::filter_block: {
        Value v(capture(s.body, scope));
        for (const auto& f : s.filters) v = apply_filter_expr(*f, v, scope);
        write(v.str());
        return Flow::normal;
      }
      case StmtKind::with: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        for (const auto& [n, e] : s.assignments) inner->set(n, eval(*e, scope));
        return exec_body(s.body, inner);
      }
      case StmtKind::break_: return Flow::break_;
      case StmtKind::continue_: return Flow::continue_;
    }
    return Flow::normal;
  }

  std::string capture(const Body& body, const ScopePtr& scope) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    try {
      exec_body(body, scope);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    return buf;
  }

  void assign(const Expr& target, const Value& v, const ScopePtr& scope) {
    if (target.kind == ExprKind::name) {
      scope->set(target.name, v);
    } else if (target.kind == ExprKind::tuple) {
      ValueList items = iterate(v);
      if (items.size() != target.args.size()) {
        raise(
            "ValueError",
            items.size() > target.args.size()
                ? "too many values to unpack (expected " + std::to_string(target.args.size()) + ")"
                : "not enough values to unpack (expected " + std::to_string(target.args.size()) +
                      ", got " + std::to_string(items.size()) + ")");
      }
      for (size_t i = 0; i < items.size(); ++i) assign(*target.args[i], items[i], scope);
    } else {
      Value* ns = scope->find(target.args[0]->name);
      if (!ns || !ns->is_namespace()) {
        raise("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
      }
      ns->entries().set(Value(target.name), v);
    }
  }

  Flow exec_for(const Stmt& s, const ScopePtr& scope) {
    Value seq = eval(*s.expr, scope);
    ValueList items = iterate(seq);
    if (s.loop_filter) {
      ValueList kept;
      for (auto& item : items) {
        step();
        auto probe = std::make_shared<Scope>();
        probe->parent = scope;
        assign(*s.target, item, probe);
        if (eval(*s.loop_filter, probe).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec_body(s.else_body, scope);
    int64_t n = static_cast<int64_t>(items.size());
    // cycle() and changed() are made once per loop; they read the current index through `at`.
    auto at = std::make_shared<int64_t>(0);
    auto last_changed = std::make_shared<std::optional<Value>>();
    Value cycle = Value::function("loop.cycle", [at](CallArgs& a) {
      if (a.positional.empty()) raise("TypeError", "no items for cycling given");
      return a.positional[static_cast<size_t>(*at) % a.positional.size()];
    });
    Value changed = Value::function("loop.changed", [last_changed](CallArgs& a) {
      Value now = Value::list(a.positional);
      if (*last_changed && values_equal(**last_changed, now)) return Value(false);
      *last_changed = now;
      return Value(true);
    });
    for (int64_t i = 0; i < n; ++i) {
      step();
      *at = i;
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      assign(*s.target, items[i], inner);
      Value loop = Value::dict();
      auto& d = loop.entries().items;
      d.reserve(13);
      auto put = [&d](const char* key, Value v) { d.emplace_back(Value(key), std::move(v)); };
      put("index", Value(i + 1));
      put("index0", Value(i));
      put("revindex", Value(n - i));
      put("revindex0", Value(n - i - 1));
      put("first", Value(i == 0));
      put("last", Value(i == n - 1));
      put("length", Value(n));
      put("depth", Value(1));
      put("depth0", Value(0));
      put("previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
      put("nextitem", i + 1 < n ? items[i + 1] : Value::undefined("there is no next item"));
      put("cycle", cycle);
      put("changed", changed);
      inner->set("loop", loop);
      Flow f = exec_body(s.body, inner);
      line_ = s.line;
      if (f == Flow::break_) break;
    }
    return Flow::normal;
  }

  // A macro's scope holds the macro itself, and a namespace may hold itself (lists and dicts
  // are immutable, so every cycle runs through one of these); clearing them breaks cycles.
  void release_closures() {
    for (auto& c : closures_) c->vars.clear();
    closures_.clear();
    for (auto& ns : namespaces_) ns.entries().items.clear();
    namespaces_.clear();
  }

  Value make_macro(const Stmt& m, const ScopePtr& closure) {
    closures_.push_back(closure);
    const Stmt* def = &m;
    return Value::function(
        m.name, [this, def, closure](CallArgs& args) { return call_macro(*def, closure, args); });
  }

  Value call_macro(const Stmt& m, const ScopePtr& closure, CallArgs& args) {
    step();
    if (++depth_ > options_.max_call_depth) {
      --depth_;
      raise("RecursionError",
            "maximum macro call depth (" + std::to_string(options_.max_call_depth) + ") exceeded");
    }
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    int saved_line = line_;
    auto scope = std::make_shared<Scope>();
    scope->parent = closure;
    std::vector<bool> used(args.keywords.size(), false);
    for (size_t i = 0; i < m.params.size(); ++i) {
      const Param& p = m.params[i];
      Value v;
      bool found = false;
      if (i < args.positional.size()) {
        v = args.positional[i];
        found = true;
      }
      for (size_t k = 0; k < args.keywords.size(); ++k) {
        if (args.keywords[k].first != p.name) continue;
        if (found)
          raise("TypeError",
                "macro '" + m.name + "' got multiple values for argument '" + p.name + "'");
        v = args.keywords[k].second;
        used[k] = found = true;
      }
      if (!found) {
        v = p.default_value ? eval(*p.default_value, scope)
                            : Value::undefined("parameter '" + p.name + "' was not provided");
      }
      scope->set(p.name, v);
    }
    if (args.positional.size() > m.params.size()) {
      if (!m.uses_varargs) {
        raise("TypeError", "macro '" + m.name + "' takes not more than " +
                               std::to_string(m.params.size()) + " argument(s)");
      }
    }
    if (m.uses_varargs) {
      ValueList extra;
      for (size_t i = m.params.size(); i < args.positional.size(); ++i) {
        extra.push_back(args.positional[i]);
      }
      scope->set("varargs", Value::tuple(std::move(extra)));
    }
    Value kwargs = Value::dict();
    for (size_t k = 0; k < args.keywords.size(); ++k) {
      if (used[k]) continue;
      const auto& [name, v] = args.keywords[k];
      if (name == "caller" && m.kind == StmtKind::macro) {
        scope->set("caller", v);
      } else if (m.uses_kwargs) {
        kwargs.entries().set(Value(name), v);
      } else {
        raise("TypeError", "macro '" + m.name + "' takes no keyword argument '" + name + "'");
      }
    }
    if (m.uses_kwargs) scope->set("kwargs", kwargs);
    std::string out = capture(m.body, scope);
    line_ = saved_line;
    return Value(std::move(out));
  }

  CallArgs eval_args(const Expr& e, const ScopePtr& scope) {
    CallArgs args;
    for (size_t i = 1; i < e.args.size(); ++i) {
      if (e.args[i]) args.positional.push_back(eval(*e.args[i], scope));
    }
    if (e.star_args) {
      for (auto& v : iterate(eval(*e.star_args, scope))) args.positional.push_back(v);
    }
    for (const auto& [k, x] : e.keywords) args.keywords.emplace_back(k, eval(*x, scope));
    if (e.star_kwargs) {
      Value d = eval(*e.star_kwargs, scope);
      if (!d.is_dict()) raise("TypeError", "argument after ** must be a mapping");
      for (const auto& [k, v] : d.entries().items) args.keywords.emplace_back(k.str(), v);
    }
    return args;
  }

  Value apply_filter_expr(const Expr& f, const Value& input, const ScopePtr& scope) {
    CallArgs args = eval_args(f, scope);
    return apply_filter(f.name, input, args);
  }

  Value lookup(const std::string& name, const ScopePtr& scope) {
    if (Value* v = scope->find(name)) return *v;
    return Value::undefined("'" + name + "' is undefined");
  }

  Value eval(const Expr& e, const ScopePtr& scope) {
    line_ = e.line;
    switch (e.kind) {
      case ExprKind::constant: return e.value;
      case ExprKind::name: return lookup(e.name, scope);
      case ExprKind::getattr: return get_attribute(eval(*e.args[0], scope), e.name);
      case ExprKind::getitem: {
        Value obj = eval(*e.args[0], scope);
        const Expr& idx = *e.args[1];
        if (idx.kind == ExprKind::slice) {
          auto part = [&](size_t i) {
            return idx.args[i] ? eval(*idx.args[i], scope) : Value::none();
          };
          return slice_value(obj, part(0), part(1), part(2));
        }
        return get_item(obj, eval(idx, scope));
      }
      case ExprKind::slice: raise("TypeError", "a slice is only valid inside []");
      case ExprKind::list:
      case ExprKind::tuple: {
        ValueList items;
        for (const auto& a : e.args) items.push_back(eval(*a, scope));
        return e.kind == ExprKind::list ? Value::list(std::move(items))
                                        : Value::tuple(std::move(items));
      }
      case ExprKind::dict: {
        Value d = Value::dict();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          Value k = eval(*e.args[i], scope);
          if (k.is_list() && !k.is_tuple()) raise("TypeError", "unhashable type: 'list'");
          if (k.is_dict()) raise("TypeError", "unhashable type: 'dict'");
          d.entries().set(k, eval(*e.args[i + 1], scope));
        }
        return d;
      }
      case ExprKind::unary: {
        Value v = eval(*e.args[0], scope);
        if (e.name == "not") return Value(!v.truthy());
        return unary_op(e.name, v);
      }
      case ExprKind::binary: {
        Value l = eval(*e.args[0], scope);
        if (e.name == "and") return l.truthy() ? eval(*e.args[1], scope) : l;
        if (e.name == "or") return l.truthy() ? l : eval(*e.args[1], scope);
        Value r = eval(*e.args[1], scope);
        line_ = e.line;
        return binary_op(e.name, l, r);
      }
      case ExprKind::compare: {
        Value l = eval(*e.args[0], scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value r = eval(*e.args[i + 1], scope);
          line_ = e.line;
          const std::string& op = e.ops[i];
          bool ok;
          if (op == "==") {
            ok = values_equal(l, r);
          } else if (op == "!=") {
            ok = !values_equal(l, r);
          } else if (op == "in") {
            ok = value_contains(r, l);
          } else if (op == "not in") {
            ok = !value_contains(r, l);
          } else {
            int c = compare_values(l, r);
            ok = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
          }
          if (!ok) return Value(false);
          l = std::move(r);
        }
        return Value(true);
      }
      case ExprKind::condition:
        if (eval(*e.args[0], scope).truthy()) return eval(*e.args[1], scope);
        return e.args[2]
                   ? eval(*e.args[2], scope)
                   : Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                                      " evaluated to false and no else section was defined.");
      case ExprKind::call: {
        Value fn = eval(*e.args[0], scope);
        CallArgs args = eval_args(e, scope);
        line_ = e.line;
        return call_value(fn, args);
      }
      case ExprKind::filter: {
        Value input = eval(*e.args[0], scope);
        line_ = e.line;
        return apply_filter_expr(e, input, scope);
      }
      case ExprKind::test: {
        Value input = eval(*e.args[0], scope);
        CallArgs args = eval_args(e, scope);
        line_ = e.line;
        bool r = apply_test(e.name, input, args);
        return Value(e.negated ? !r : r);
      }
    }
    return Value::undefined();
  }

  const RenderOptions& options_;
  ScopePtr globals_;
  std::vector<ScopePtr> closures_;
  std::vector<Value> namespaces_;
  std::string* out_ = nullptr;
  int line_ = 0;
  int depth_ = 0;
  uint64_t steps_ = 0;
};

}  // namespace

std::string render(const Template& tmpl, const Value& context, const RenderOptions& options) {
  if (!context.is_dict()) throw Error("[jinja] the render context must be a dict");
  return Interpreter(options).run(tmpl, context);
}

}  // namespace lathe::jinja
