// Python semantics of the Jinja value: truthiness, str/repr, equality, ordering, membership.
#include "lathe/text/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

void raise(const std::string& kind, const std::string& message) {
  throw RenderError{kind, message};
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::none;
  return v;
}

Value Value::undefined(std::string message) {
  Value v;
  v.s_ = std::move(message);
  return v;
}

Value Value::list(ValueList items) {
  Value v;
  v.kind_ = Kind::list;
  v.list_ = std::make_shared<ValueList>(std::move(items));
  return v;
}

Value Value::tuple(ValueList items) {
  Value v = list(std::move(items));
  v.tuple_ = true;
  return v;
}

Value Value::dict() {
  Value v;
  v.kind_ = Kind::dict;
  v.dict_ = std::make_shared<DictData>();
  return v;
}

Value Value::namespace_object() {
  Value v = dict();
  v.kind_ = Kind::ns;
  return v;
}

Value Value::function(std::string name, NativeFn fn) {
  Value v;
  v.kind_ = Kind::callable;
  v.fn_ = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

const void* Value::identity() const {
  if (list_) return list_.get();
  if (dict_) return dict_.get();
  if (fn_) return fn_.get();
  return nullptr;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean: return b_;
    case Kind::integer: return i_ != 0;
    case Kind::floating: return f_ != 0.0;
    case Kind::string: return !s_.empty();
    case Kind::list: return !list_->empty();
    case Kind::dict: return !dict_->items.empty();
    case Kind::callable:
    case Kind::ns: return true;
  }
  return false;
}

std::string format_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci looks like "-d.ddde+XX": split into sign, digits and decimal exponent.
  size_t epos = sci.find('e');
  int exp10 = std::stoi(sci.substr(epos + 1));
  std::string mant = sci.substr(0, epos);
  bool negative = mant[0] == '-';
  if (negative) mant.erase(0, 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits.push_back(c);
  }
  int decpt = exp10 + 1;
  std::string out = negative ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(-decpt, '0') + digits;
    } else if (decpt >= static_cast<int>(digits.size())) {
      out += digits + std::string(decpt - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return out + ebuf;
}

std::string repr_string(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : utf8_decode(s)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == static_cast<char32_t>(quote)) {
      out += '\\';
      out += quote;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      utf8_append(out, c);
    }
  }
  out += quote;
  return out;
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::undefined: return "";
    case Kind::string: return s_;
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "None";
    case Kind::boolean: return b_ ? "True" : "False";
    case Kind::integer: return std::to_string(i_);
    case Kind::floating: return format_float(f_);
    case Kind::string: return repr_string(s_);
    case Kind::list: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) {
        if (i) out += ", ";
        out += (*list_)[i].repr();
      }
      if (tuple_ && list_->size() == 1) out += ",";
      return out + (tuple_ ? ")" : "]");
    }
    case Kind::dict:
    case Kind::ns: {
      std::string out = kind_ == Kind::ns ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, v] : dict_->items) {
        if (!first) out += ", ";
        first = false;
        out += k.repr() + ": " + v.repr();
      }
      return out + (kind_ == Kind::ns ? "}>" : "}");
    }
    case Kind::callable: return "<function " + fn_->name + ">";
  }
  return "";
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::list: return tuple_ ? "tuple" : "list";
    case Kind::dict: return "dict";
    case Kind::callable: return "function";
    case Kind::ns: return "Namespace";
  }
  return "object";
}

const Value& Value::require_defined() const {
  if (is_undefined()) raise("UndefinedError", s_.empty() ? "value is undefined" : s_);
  return *this;
}

const Value* DictData::find(const Value& key) const {
  for (const auto& kv : items) {
    if (values_equal(kv.first, key)) return &kv.second;
  }
  return nullptr;
}

const Value* DictData::find(const std::string& key) const {
  for (const auto& kv : items) {
    if (kv.first.is_string() && kv.first.as_string() == key) return &kv.second;
  }
  return nullptr;
}

void DictData::set(const Value& key, Value value) {
  for (auto& kv : items) {
    if (values_equal(kv.first, key)) {
      kv.second = std::move(value);
      return;
    }
  }
  items.emplace_back(key, std::move(value));
}

Value CallArgs::get(size_t index, const std::string& name, Value fallback) const {
  if (index < positional.size()) return positional[index];
  if (const Value* v = keyword(name)) return *v;
  return fallback;
}

const Value* CallArgs::keyword(const std::string& name) const {
  for (const auto& kv : keywords) {
    if (kv.first == name) return &kv.second;
  }
  return nullptr;
}

void CallArgs::check(const std::string& fn, size_t max_positional,
                     std::initializer_list<const char*> allowed) const {
  if (positional.size() > max_positional) {
    raise("TypeError", fn + "() takes at most " + std::to_string(max_positional) +
                           " positional argument(s) (" + std::to_string(positional.size()) +
                           " given)");
  }
  for (const auto& kv : keywords) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || kv.first == a;
    if (!ok) raise("TypeError", fn + "() got an unexpected keyword argument '" + kv.first + "'");
  }
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::undefined:
    case Kind::none: return true;
    case Kind::string: return a.as_string() == b.as_string();
    case Kind::list: {
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!values_equal(a.items()[i], b.items()[i])) return false;
      }
      return true;
    }
    case Kind::dict: {
      if (a.entries().items.size() != b.entries().items.size()) return false;
      for (const auto& [k, v] : a.entries().items) {
        const Value* other = b.entries().find(k);
        if (!other || !values_equal(v, *other)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

int compare_values(const Value& a, const Value& b) {
  a.require_defined();
  b.require_defined();
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!values_equal(x[i], y[i])) return compare_values(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  raise("TypeError", "'<' not supported between instances of '" + a.type_name() + "' and '" +
                         b.type_name() + "'");
}

bool value_contains(const Value& haystack, const Value& needle) {
  switch (haystack.kind()) {
    case Kind::undefined: return false;
    case Kind::string:
      if (!needle.is_string()) {
        raise("TypeError",
              "'in <string>' requires string as left operand, not " + needle.type_name());
      }
      return haystack.as_string().find(needle.as_string()) != std::string::npos;
    case Kind::list:
      for (const auto& v : haystack.items()) {
        if (values_equal(v, needle)) return true;
      }
      return false;
    case Kind::dict: return haystack.entries().find(needle) != nullptr;
    default: raise("TypeError", "argument of type '" + haystack.type_name() + "' is not iterable");
  }
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined: return {};
    case Kind::list: return v.items();
    case Kind::dict: {
      ValueList keys;
      for (const auto& kv : v.entries().items) keys.push_back(kv.first);
      return keys;
    }
    case Kind::string: {
      ValueList chars;
      for (char32_t c : utf8_decode(v.as_string())) chars.emplace_back(utf8_encode({&c, 1}));
      return chars;
    }
    default: raise("TypeError", "'" + v.type_name() + "' object is not iterable");
  }
}

}  // namespace lathe::jinja
