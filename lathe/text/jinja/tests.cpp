// jinja2's tests (`x is defined`, `x is string`, `x is divisibleby 3`, ...).
#include <functional>
#include <map>

#include "lathe/text/jinja/interpreter.h"
#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

namespace {

using TestFn = std::function<bool(const Value&, CallArgs&)>;

Value arg0(CallArgs& a, const char* test) {
  if (a.positional.empty() && a.keywords.empty()) {
    raise("TypeError", std::string("test '") + test + "' needs an argument");
  }
  return a.get(0, "other");
}

bool check_case(const Value& v, bool want_upper) {
  bool any = false;
  for (char32_t c : utf8_decode(v.str())) {
    if (want_upper ? is_lower(c) : is_upper(c)) return false;
    any = any || (want_upper ? is_upper(c) : is_lower(c));
  }
  return any;
}

const std::map<std::string, TestFn>& registry() {
  static const std::map<std::string, TestFn> tests = [] {
    std::map<std::string, TestFn> t;
    t["defined"] = [](const Value& v, CallArgs&) { return !v.is_undefined(); };
    t["undefined"] = [](const Value& v, CallArgs&) { return v.is_undefined(); };
    t["none"] = [](const Value& v, CallArgs&) { return v.is_none(); };
    t["boolean"] = [](const Value& v, CallArgs&) { return v.is_bool(); };
    t["true"] = [](const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); };
    t["false"] = [](const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); };
    t["integer"] = [](const Value& v, CallArgs&) { return v.is_int(); };
    t["float"] = [](const Value& v, CallArgs&) { return v.is_float(); };
    t["number"] = [](const Value& v, CallArgs&) { return v.is_number(); };
    t["string"] = [](const Value& v, CallArgs&) { return v.is_string(); };
    t["mapping"] = [](const Value& v, CallArgs&) { return v.is_dict(); };
    t["iterable"] = [](const Value& v, CallArgs&) {
      return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
    };
    t["sequence"] = [](const Value& v, CallArgs&) {
      return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
    };
    t["callable"] = [](const Value& v, CallArgs&) { return v.is_callable(); };
    t["escaped"] = [](const Value&, CallArgs&) { return false; };
    t["lower"] = [](const Value& v, CallArgs&) { return check_case(v, false); };
    t["upper"] = [](const Value& v, CallArgs&) { return check_case(v, true); };
    t["odd"] = [](const Value& v, CallArgs&) {
      Value r = binary_op("%", v, Value(2));
      return values_equal(r, Value(1));
    };
    t["even"] = [](const Value& v, CallArgs&) {
      Value r = binary_op("%", v, Value(2));
      return values_equal(r, Value(0));
    };
    t["divisibleby"] = [](const Value& v, CallArgs& a) {
      return values_equal(binary_op("%", v, arg0(a, "divisibleby")), Value(0));
    };
    TestFn eq = [](const Value& v, CallArgs& a) { return values_equal(v, arg0(a, "eq")); };
    t["eq"] = t["equalto"] = t["=="] = eq;
    TestFn ne = [](const Value& v, CallArgs& a) { return !values_equal(v, arg0(a, "ne")); };
    t["ne"] = t["!="] = ne;
    TestFn lt = [](const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "lt")) < 0; };
    t["lt"] = t["lessthan"] = t["<"] = lt;
    TestFn le = [](const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "le")) <= 0; };
    t["le"] = t["<="] = le;
    TestFn gt = [](const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "gt")) > 0; };
    t["gt"] = t["greaterthan"] = t[">"] = gt;
    TestFn ge = [](const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "ge")) >= 0; };
    t["ge"] = t[">="] = ge;
    t["in"] = [](const Value& v, CallArgs& a) { return value_contains(arg0(a, "in"), v); };
    t["sameas"] = [](const Value& v, CallArgs& a) {
      Value o = arg0(a, "sameas");
      if (v.identity() || o.identity()) return v.identity() == o.identity();
      return v.kind() == o.kind() && values_equal(v, o);
    };
    t["filter"] = [](const Value& v, CallArgs&) {
      return v.is_string() && has_filter(v.as_string());
    };
    t["test"] = [](const Value& v, CallArgs&) { return v.is_string() && has_test(v.as_string()); };
    return t;
  }();
  return tests;
}

}  // namespace

bool has_test(const std::string& name) { return registry().count(name) > 0; }

bool apply_test(const std::string& name, const Value& input, CallArgs& args) {
  auto it = registry().find(name);
  if (it == registry().end()) raise("TemplateAssertionError", "No test named '" + name + "'.");
  return it->second(input, args);
}

}  // namespace lathe::jinja
