// The Jinja syntax tree: expressions and statements as produced by the parser.
// One node struct per family with a kind tag keeps the interpreter a plain switch.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lathe/text/jinja/value.h"

namespace lathe::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  constant,   // value
  name,       // name
  getattr,    // args[0].name
  getitem,    // args[0][args[1]]
  slice,      // args: start, stop, step (null where omitted)
  list,       // args
  tuple,      // args
  dict,       // args: key, value, key, value, ...
  unary,      // op args[0]  (op: "-", "+", "not")
  binary,     // args[0] op args[1]
  compare,    // args[0] ops[0] args[1] ops[1] args[2] ...
  condition,  // args[1] if args[0] else args[2] (args[2] null when omitted)
  call,       // args[0](args[1:], keywords)
  filter,     // args[0] | name(args[1:], keywords)
  test,       // args[0] is [not] name(args[1:])
};

struct Expr {
  ExprKind kind;
  int line = 0;
  Value value;
  std::string name;  // name, attribute, operator, filter or test name
  std::vector<std::string> ops;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  ExprPtr star_args;     // f(*x)
  ExprPtr star_kwargs;   // f(**x)
  bool negated = false;  // `is not`
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  text,          // text
  output,        // {{ expr }}
  if_,           // conditions[i] -> bodies[i]; else_body
  for_,          // for target in expr [if filter]: body else else_body
  set,           // target = expr
  set_block,     // {% set target %}body{% endset %} (filters applied)
  macro,         // {% macro name(params) %}body
  call_block,    // {% call(params) expr %}body
  filter_block,  // {% filter f %}body
  with,          // {% with a = x %}body
  break_,
  continue_,
};

struct Param {
  std::string name;
  ExprPtr default_value;
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr target;  // name, tuple of names, or getattr on a namespace
  ExprPtr loop_filter;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  // Macros and call blocks: the name, parameters, and which implicit names the body uses.
  std::string name;
  std::vector<Param> params;
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
  // Filter blocks and `set` blocks: filters as filter expressions over a null input.
  std::vector<ExprPtr> filters;
  // `with`: names assigned in order.
  std::vector<std::pair<std::string, ExprPtr>> assignments;
};

struct Template {
  Body body;
};

}  // namespace lathe::jinja
