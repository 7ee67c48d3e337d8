// Attribute, item and slice access as jinja2's sandbox does them: `x.name` prefers methods
// over dict keys, `x[key]` prefers keys over methods, and misses give undefined values.
#include "lathe/text/jinja/interpreter.h"
#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

namespace {

std::string object_name(const Value& v) { return v.type_name() + " object"; }

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined("'" + object_name(obj) + "' has no attribute '" + name + "'");
}

// Python's slice.indices(): clamps start/stop for a sequence of length n.
void slice_indices(int64_t n, const Value& start, const Value& stop, const Value& step, int64_t& b,
                   int64_t& e, int64_t& s) {
  auto as_index = [](const Value& v) {
    if (!v.is_int() && !v.is_bool()) {
      raise("TypeError", "slice indices must be integers or None");
    }
    return v.as_int();
  };
  s = step.is_none() ? 1 : as_index(step);
  if (s == 0) raise("ValueError", "slice step cannot be zero");
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = as_index(v);
    if (i < 0) i += n;
    if (s > 0) return std::min(std::max<int64_t>(i, 0), n);
    return std::min(std::max<int64_t>(i, -1), n - 1);
  };
  b = clamp(start, s > 0 ? 0 : n - 1);
  e = clamp(stop, s > 0 ? n : -1);
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Kind::undefined: obj.require_defined(); return obj;
    case Kind::ns:
      if (const Value* v = obj.entries().find(name)) return *v;
      return Value::undefined("'Namespace' object has no attribute '" + name + "'");
    case Kind::dict: {
      Value m = lookup_method(obj, name);
      if (!m.is_undefined() || !m.undefined_message().empty()) return m;
      if (const Value* v = obj.entries().find(name)) return *v;
      return missing_attribute(obj, name);
    }
    case Kind::string:
    case Kind::list: {
      Value m = lookup_method(obj, name);
      if (!m.is_undefined() || !m.undefined_message().empty()) return m;
      return missing_attribute(obj, name);
    }
    default: return missing_attribute(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Kind::undefined: obj.require_defined(); return obj;
    case Kind::dict:
      if (const Value* v = obj.entries().find(key)) return *v;
      break;
    case Kind::list:
    case Kind::string:
      if (key.is_int() || key.is_bool()) {
        int64_t n = obj.is_string() ? static_cast<int64_t>(utf8_length(obj.as_string()))
                                    : static_cast<int64_t>(obj.items().size());
        int64_t i = key.as_int();
        if (i < 0) i += n;
        if (i < 0 || i >= n) {
          return Value::undefined("'" + object_name(obj) + "' has no element " + key.repr());
        }
        if (obj.is_list()) return obj.items()[i];
        if (is_ascii(obj.as_string())) return Value(obj.as_string().substr(i, 1));
        char32_t c = utf8_decode(obj.as_string())[i];
        return Value(utf8_encode({&c, 1}));
      }
      break;
    default: break;
  }
  if (key.is_string()) {
    if (obj.is_namespace()) return get_attribute(obj, key.as_string());
    Value m = lookup_method(obj, key.as_string());
    if (!m.is_undefined() || !m.undefined_message().empty()) return m;
    return missing_attribute(obj, key.as_string());
  }
  return Value::undefined("'" + object_name(obj) + "' has no element " + key.repr());
}

Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  obj.require_defined();
  if (!obj.is_list() && !obj.is_string()) {
    return Value::undefined("'" + object_name(obj) + "' cannot be sliced");
  }
  bool ascii = obj.is_string() && is_ascii(obj.as_string());
  std::u32string chars;
  if (obj.is_string() && !ascii) chars = utf8_decode(obj.as_string());
  int64_t n = obj.is_list() ? static_cast<int64_t>(obj.items().size())
              : ascii       ? static_cast<int64_t>(obj.as_string().size())
                            : static_cast<int64_t>(chars.size());
  int64_t b, e, s;
  slice_indices(n, start, stop, step, b, e, s);
  if (obj.is_list()) {
    ValueList out;
    for (int64_t i = b; s > 0 ? i < e : i > e; i += s) out.push_back(obj.items()[i]);
    return obj.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
  }
  if (ascii) {
    std::string out;
    for (int64_t i = b; s > 0 ? i < e : i > e; i += s) out.push_back(obj.as_string()[i]);
    return Value(std::move(out));
  }
  std::u32string out;
  for (int64_t i = b; s > 0 ? i < e : i > e; i += s) out.push_back(chars[i]);
  return Value(utf8_encode(out));
}

Value call_value(const Value& fn, CallArgs& args) {
  fn.require_defined();
  if (!fn.is_callable()) raise("TypeError", "'" + fn.type_name() + "' object is not callable");
  return fn.callable().fn(args);
}

}  // namespace lathe::jinja
