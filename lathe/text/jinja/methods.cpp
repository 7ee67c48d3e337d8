// Python methods of str, list and dict that templates call (`s.strip()`, `d.items()`, ...).
// Methods that mutate are refused, as in jinja2's ImmutableSandboxedEnvironment.
#include <algorithm>
#include <set>

#include "lathe/text/jinja/interpreter.h"
#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

namespace {

using U32 = std::u32string;

std::string need_string(const Value& v, const std::string& fn, const char* what) {
  if (!v.is_string()) {
    raise("TypeError", fn + "() argument '" + what + "' must be str, not " + v.type_name());
  }
  return v.as_string();
}

// strip/lstrip/rstrip: `chars` none strips whitespace, otherwise the given characters.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  U32 u = utf8_decode(s);
  U32 set = chars.is_none() || chars.is_undefined() ? U32() : utf8_decode(chars.str());
  auto strip_it = [&](char32_t c) {
    return chars.is_none() || chars.is_undefined() ? is_space(c) : set.find(c) != U32::npos;
  };
  size_t b = 0, e = u.size();
  if (left) {
    while (b < e && strip_it(u[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(u[e - 1])) --e;
  }
  return utf8_encode(u.substr(b, e - b));
}

Value split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right) {
  ValueList out;
  if (sep.is_none() || sep.is_undefined()) {
    U32 u = utf8_decode(s);
    std::vector<U32> parts;
    if (!from_right) {
      size_t i = 0;
      while (true) {
        while (i < u.size() && is_space(u[i])) ++i;
        if (i >= u.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
          parts.push_back(u.substr(i));
          break;
        }
        size_t j = i;
        while (j < u.size() && !is_space(u[j])) ++j;
        parts.push_back(u.substr(i, j - i));
        i = j;
      }
    } else {
      size_t e = u.size();
      while (true) {
        while (e > 0 && is_space(u[e - 1])) --e;
        if (e == 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
          parts.push_back(u.substr(0, e));
          break;
        }
        size_t b = e;
        while (b > 0 && !is_space(u[b - 1])) --b;
        parts.push_back(u.substr(b, e - b));
        e = b;
      }
      std::reverse(parts.begin(), parts.end());
    }
    for (const auto& p : parts) out.emplace_back(utf8_encode(p));
    return Value::list(std::move(out));
  }
  std::string d = need_string(sep, "split", "sep");
  if (d.empty()) raise("ValueError", "empty separator");
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    while (true) {
      size_t at = s.find(d, start);
      if (at == std::string::npos ||
          (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
        parts.push_back(s.substr(start));
        break;
      }
      parts.push_back(s.substr(start, at - start));
      start = at + d.size();
    }
  } else {
    size_t end = s.size();
    while (true) {
      size_t at = end >= d.size() ? s.rfind(d, end - d.size()) : std::string::npos;
      if (at == std::string::npos ||
          (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
        parts.push_back(s.substr(0, end));
        break;
      }
      parts.push_back(s.substr(at + d.size(), end - at - d.size()));
      end = at;
    }
    std::reverse(parts.begin(), parts.end());
  }
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value::list(std::move(out));
}

std::string title_case(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8_decode(s)) {
    utf8_append(out, prev_cased ? to_lower(c) : to_upper(c));
    prev_cased = is_cased(c);
  }
  return out;
}

std::string capitalize(const std::string& s) {
  U32 u = utf8_decode(s);
  for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? to_upper(u[i]) : to_lower(u[i]);
  return utf8_encode(u);
}

// Code point index of sub in s within [start, end), or -1 (str.find / str.rfind).
int64_t find(const std::string& s, const std::string& sub, const CallArgs& a, bool reverse) {
  U32 u = utf8_decode(s), v = utf8_decode(sub);
  int64_t n = static_cast<int64_t>(u.size());
  auto bound = [&](size_t i, int64_t fallback) {
    Value x = a.get(i, "");
    if (x.is_none() || x.is_undefined()) return fallback;
    int64_t k = x.as_int();
    if (k < 0) k += n;
    return std::clamp<int64_t>(k, 0, n);
  };
  int64_t b = bound(1, 0), e = bound(2, n);
  if (e - b < static_cast<int64_t>(v.size())) return -1;
  U32 window = u.substr(b, e - b);
  size_t at = reverse ? window.rfind(v) : window.find(v);
  return at == U32::npos ? -1 : b + static_cast<int64_t>(at);
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& p) {
    std::string x = need_string(p, prefix ? "startswith" : "endswith", "prefix");
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0
                  : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_tuple()) {
    for (const auto& p : affix.items()) {
      if (one(p)) return true;
    }
    return false;
  }
  return one(affix);
}

std::string replace(const std::string& s, const std::string& old, const std::string& rep,
                    int64_t count) {
  std::string out;
  if (old.empty()) {
    U32 u = utf8_decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || done < count) {
        out += rep;
        ++done;
      }
      if (i < u.size()) utf8_append(out, u[i]);
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t at = s.find(old, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += rep;
    start = at + old.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::string pad(const std::string& s, int64_t width, const Value& fill, int mode) {
  std::string f = fill.is_undefined() ? " " : fill.as_string();
  int64_t n = static_cast<int64_t>(utf8_length(s));
  if (width <= n) return s;
  int64_t total = width - n;
  int64_t left = mode == 0 ? total / 2 + (total & width & 1) : mode == 1 ? 0 : total;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += f;
  out += s;
  for (int64_t i = 0; i < total - left; ++i) out += f;
  return out;
}

template <typename Pred>
Value all_chars(const std::string& s, Pred pred) {
  U32 u = utf8_decode(s);
  if (u.empty()) return Value(false);
  return Value(std::all_of(u.begin(), u.end(), pred));
}

Value cased_check(const std::string& s, bool want_upper) {
  bool any = false;
  for (char32_t c : utf8_decode(s)) {
    if (want_upper ? is_lower(c) : is_upper(c)) return Value(false);
    any = any || (want_upper ? is_upper(c) : is_lower(c));
  }
  return Value(any);
}

Value is_title(const std::string& s) {
  bool cased = false, prev_cased = false;
  for (char32_t c : utf8_decode(s)) {
    if (is_upper(c) || (is_cased(c) && !is_lower(c))) {
      if (prev_cased) return Value(false);
      prev_cased = cased = true;
    } else if (is_lower(c)) {
      if (!prev_cased) return Value(false);
      prev_cased = cased = true;
    } else {
      prev_cased = false;
    }
  }
  return Value(cased);
}

std::string format_method(const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '}') raise("ValueError", "Single '}' encountered in format string");
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) raise("ValueError", "Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    if (field.find(':') != std::string::npos || field.find('!') != std::string::npos) {
      raise("ValueError", "format specifications are not supported: {" + field + "}");
    }
    Value v;
    if (field.empty()) {
      if (auto_index >= a.positional.size()) raise("IndexError", "Replacement index out of range");
      v = a.positional[auto_index++];
    } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t k = std::stoul(field);
      if (k >= a.positional.size()) raise("IndexError", "Replacement index out of range");
      v = a.positional[k];
    } else {
      const Value* kw = a.keyword(field);
      if (!kw) raise("KeyError", repr_string(field));
      v = *kw;
    }
    out += v.str();
    i = close;
  }
  return out;
}

Value string_method(const std::string& s, const std::string& name, CallArgs& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    a.check(name, 1, {});
    return Value(strip(s, a.get(0, "chars", Value::none()), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    a.check(name, 2, {"sep", "maxsplit"});
    Value ms = a.get(1, "maxsplit", Value(-1));
    return split(s, a.get(0, "sep", Value::none()), ms.as_int(), name == "rsplit");
  }
  if (name == "splitlines") {
    ValueList out;
    bool keep = a.get(0, "keepends", Value(false)).truthy();
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\n' && s[i] != '\r') continue;
      size_t end = i;
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      out.emplace_back(s.substr(start, (keep ? i + 1 : end) - start));
      start = i + 1;
    }
    if (start < s.size()) out.emplace_back(s.substr(start));
    return Value::list(std::move(out));
  }
  if (name == "startswith" || name == "endswith") {
    a.check(name, 1, {});
    return Value(affix_match(s, a.get(0, "prefix").require_defined(), name == "startswith"));
  }
  if (name == "replace") {
    a.check(name, 3, {"count"});
    return Value(replace(s, need_string(a.get(0, "old"), name, "old"),
                         need_string(a.get(1, "new"), name, "new"),
                         a.get(2, "count", Value(-1)).as_int()));
  }
  if (name == "upper") return Value(upper(s));
  if (name == "lower" || name == "casefold") return Value(lower(s));
  if (name == "title") return Value(title_case(s));
  if (name == "capitalize") return Value(capitalize(s));
  if (name == "swapcase") {
    std::string out;
    for (char32_t c : utf8_decode(s)) utf8_append(out, is_upper(c) ? to_lower(c) : to_upper(c));
    return Value(out);
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    int64_t at = find(s, need_string(a.get(0, "sub"), name, "sub"), a, name[0] == 'r');
    if (at < 0 && name.find("index") != std::string::npos) {
      raise("ValueError", "substring not found");
    }
    return Value(at);
  }
  if (name == "count") {
    std::string sub = need_string(a.get(0, "sub"), name, "sub");
    if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    std::string out;
    ValueList items = iterate(a.get(0, "iterable").require_defined());
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        raise("TypeError", "sequence item " + std::to_string(i) + ": expected str instance, " +
                               items[i].type_name() + " found");
      }
      if (i) out += s;
      out += items[i].as_string();
    }
    return Value(out);
  }
  if (name == "format") return Value(format_method(s, a));
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") {
    return all_chars(s, is_digit);
  }
  if (name == "isalpha") return all_chars(s, is_alpha);
  if (name == "isalnum") return all_chars(s, [](char32_t c) { return is_alpha(c) || is_digit(c); });
  if (name == "isspace") return all_chars(s, is_space);
  if (name == "isupper") return cased_check(s, true);
  if (name == "islower") return cased_check(s, false);
  if (name == "istitle") return is_title(s);
  if (name == "center" || name == "ljust" || name == "rjust") {
    int mode = name == "center" ? 0 : name == "ljust" ? 1 : 2;
    return Value(pad(s, a.get(0, "width").as_int(), a.get(1, "fillchar"), mode));
  }
  if (name == "zfill") {
    int64_t width = a.get(0, "width").as_int();
    int64_t n = static_cast<int64_t>(utf8_length(s));
    if (width <= n) return Value(s);
    size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    return Value(s.substr(0, sign) + std::string(width - n, '0') + s.substr(sign));
  }
  if (name == "partition" || name == "rpartition") {
    std::string sep = need_string(a.get(0, "sep"), name, "sep");
    if (sep.empty()) raise("ValueError", "empty separator");
    size_t at = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (at == std::string::npos) {
      return name == "partition" ? Value::tuple({Value(s), Value(""), Value("")})
                                 : Value::tuple({Value(""), Value(""), Value(s)});
    }
    return Value::tuple({Value(s.substr(0, at)), Value(sep), Value(s.substr(at + sep.size()))});
  }
  if (name == "removeprefix" || name == "removesuffix") {
    std::string x = need_string(a.get(0, "affix"), name, "affix");
    bool pre = name == "removeprefix";
    if (affix_match(s, Value(x), pre)) {
      return Value(pre ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
    }
    return Value(s);
  }
  raise("AttributeError", "'str' object has no attribute '" + name + "'");
}

const std::set<std::string>& string_methods() {
  static const std::set<std::string> names = {
      "strip",      "lstrip",       "rstrip",      "split",   "rsplit",  "splitlines",
      "startswith", "endswith",     "replace",     "upper",   "lower",   "casefold",
      "title",      "capitalize",   "swapcase",    "find",    "rfind",   "index",
      "rindex",     "count",        "join",        "format",  "isdigit", "isdecimal",
      "isnumeric",  "isalpha",      "isalnum",     "isspace", "isupper", "islower",
      "istitle",    "center",       "ljust",       "rjust",   "zfill",   "partition",
      "rpartition", "removeprefix", "removesuffix"};
  return names;
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("SecurityError: access to attribute '" + name + "' of '" +
                          obj.type_name() + "' object is unsafe.");
}

}  // namespace

Value lookup_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    if (!string_methods().count(name)) return Value::undefined();
    const std::string& s = obj.as_string();
    return Value::function("str." + name,
                           [s, name](CallArgs& a) { return string_method(s, name, a); });
  }
  if (obj.is_list()) {
    static const std::set<std::string> mutators = {"append", "clear",  "extend",  "insert",
                                                   "pop",    "remove", "reverse", "sort"};
    if (mutators.count(name)) return unsafe(obj, name);
    if (name == "count" || name == "index") {
      return Value::function("list." + name, [obj, name](CallArgs& a) {
        Value x = a.get(0, "value");
        int64_t n = 0;
        for (size_t i = 0; i < obj.items().size(); ++i) {
          if (!values_equal(obj.items()[i], x)) continue;
          if (name == "index") return Value(static_cast<int64_t>(i));
          ++n;
        }
        if (name == "index") raise("ValueError", x.repr() + " is not in list");
        return Value(n);
      });
    }
    if (name == "copy") {
      return Value::function("list.copy", [obj](CallArgs&) { return Value::list(obj.items()); });
    }
    return Value::undefined();
  }
  if (obj.is_dict()) {
    static const std::set<std::string> mutators = {"clear", "pop", "popitem", "setdefault",
                                                   "update"};
    if (mutators.count(name)) return unsafe(obj, name);
    if (name == "items" || name == "keys" || name == "values") {
      return Value::function("dict." + name, [obj, name](CallArgs& a) {
        a.check(name, 0, {});
        ValueList out;
        for (const auto& [k, v] : obj.entries().items) {
          out.push_back(name == "items" ? Value::tuple({k, v}) : name == "keys" ? k : v);
        }
        return Value::list(std::move(out));
      });
    }
    if (name == "get") {
      return Value::function("dict.get", [obj](CallArgs& a) {
        a.check("get", 2, {});
        const Value* v = obj.entries().find(a.get(0, "key"));
        return v ? *v : a.get(1, "default", Value::none());
      });
    }
    if (name == "copy") {
      return Value::function("dict.copy", [obj](CallArgs&) {
        Value d = Value::dict();
        d.entries().items = obj.entries().items;
        return d;
      });
    }
  }
  return Value::undefined();
}

}  // namespace lathe::jinja
