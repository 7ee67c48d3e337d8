// The dynamic value of the Jinja interpreter, with Python semantics (truthiness, equality,
// ordering, str() and repr()) because chat templates are written against Python's jinja2.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lathe::jinja {

// Errors raised while rendering carry a Python-like kind ("TypeError", "UndefinedError", ...);
// the interpreter adds the template line and turns them into lathe::Error.
struct RenderError {
  std::string kind;
  std::string message;
};
[[noreturn]] void raise(const std::string& kind, const std::string& message);

class Value;
using ValueList = std::vector<Value>;
struct DictData;
struct CallArgs;
using NativeFn = std::function<Value(CallArgs&)>;

struct Callable {
  std::string name;
  NativeFn fn;
};

enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, callable, ns };

class Value {
 public:
  Value() = default;
  Value(bool b) : kind_(Kind::boolean), b_(b) {}
  Value(int v) : kind_(Kind::integer), i_(v) {}
  Value(int64_t v) : kind_(Kind::integer), i_(v) {}
  Value(double v) : kind_(Kind::floating), f_(v) {}
  Value(std::string s) : kind_(Kind::string), s_(std::move(s)) {}
  Value(const char* s) : kind_(Kind::string), s_(s) {}

  static Value none();
  // An undefined value; `message` is what using it wrongly reports (jinja2's hint).
  static Value undefined(std::string message = "");
  static Value list(ValueList items = {});
  static Value tuple(ValueList items);
  static Value dict();
  static Value namespace_object();
  static Value function(std::string name, NativeFn fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::undefined; }
  bool is_none() const { return kind_ == Kind::none; }
  bool is_bool() const { return kind_ == Kind::boolean; }
  bool is_int() const { return kind_ == Kind::integer; }
  bool is_float() const { return kind_ == Kind::floating; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_list() const { return kind_ == Kind::list; }
  bool is_tuple() const { return kind_ == Kind::list && tuple_; }
  bool is_dict() const { return kind_ == Kind::dict; }
  bool is_namespace() const { return kind_ == Kind::ns; }
  bool is_callable() const { return kind_ == Kind::callable; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return is_bool() ? (b_ ? 1 : 0) : i_; }
  double as_float() const { return is_float() ? f_ : static_cast<double>(as_int()); }
  const std::string& as_string() const { return s_; }
  // The undefined value's error message (for jinja2's "'x' is undefined").
  const std::string& undefined_message() const { return s_; }
  ValueList& items() const { return *list_; }
  DictData& entries() const { return *dict_; }
  const Callable& callable() const { return *fn_; }
  // Identity of containers (jinja2's `sameas` and the sandbox's shared objects).
  const void* identity() const;

  // Python truthiness.
  bool truthy() const;
  // Python str(): what `{{ x }}` prints (undefined prints nothing).
  std::string str() const;
  // Python repr(): how containers print their items.
  std::string repr() const;
  // Python type names, for error messages ("str", "int", "dict", ...).
  std::string type_name() const;
  // Throws UndefinedError when the value is undefined: jinja2 rejects most uses of it.
  const Value& require_defined() const;

 private:
  Kind kind_ = Kind::undefined;
  bool tuple_ = false;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<ValueList> list_;
  std::shared_ptr<DictData> dict_;
  std::shared_ptr<Callable> fn_;
};

// An insertion-ordered map; keys follow Python's dict equality (1 == 1.0 == True).
struct DictData {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(const Value& key, Value value);
};

struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keywords;

  // Takes argument `index` positionally or by keyword `name`, else `fallback`.
  Value get(size_t index, const std::string& name, Value fallback = Value::undefined()) const;
  const Value* keyword(const std::string& name) const;
  // Rejects more than `max_positional` positionals and any keyword not in `allowed`.
  void check(const std::string& fn, size_t max_positional,
             std::initializer_list<const char*> allowed) const;
};

// Python equality and ordering (ordering throws TypeError between unorderable types).
bool values_equal(const Value& a, const Value& b);
int compare_values(const Value& a, const Value& b);
// Python `needle in haystack`.
bool value_contains(const Value& haystack, const Value& needle);
// The items a `for` loop visits (dict keys, string characters); TypeError where not iterable.
ValueList iterate(const Value& v);

// Python float repr ("1.0", "1e-05", "0.30000000000000004").
std::string format_float(double v);
// Python repr of a string, quote choice and escapes included.
std::string repr_string(const std::string& s);

}  // namespace lathe::jinja
