// jinja2's built-in filters used by chat templates, with transformers' `tojson`
// (json.dumps with ensure_ascii=False) in place of jinja2's HTML-safe one.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

#include "lathe/text/jinja/interpreter.h"
#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

namespace {

using FilterFn = std::function<Value(const Value&, CallArgs&)>;

// jinja2's make_attrgetter: "a.b.0" looks up each part as an item, digits as integers.
Value attribute_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur =
        get_item(cur, digits ? Value(static_cast<int64_t>(std::strtoll(part.c_str(), nullptr, 10)))
                             : Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// Key used to sort, dedupe or compare: the attribute (if any), lowercased unless case matters.
Value sort_key(const Value& item, const Value& attribute, bool case_sensitive) {
  Value k = attribute.is_undefined() || attribute.is_none() ? item
                                                            : attribute_path(item, attribute.str());
  if (!case_sensitive && k.is_string()) return Value(lower(k.as_string()));
  return k;
}

CallArgs rest_args(const CallArgs& a, size_t skip) {
  CallArgs out;
  for (size_t i = skip; i < a.positional.size(); ++i) out.positional.push_back(a.positional[i]);
  out.keywords = a.keywords;
  return out;
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined: return 0;
    case Kind::string: return static_cast<int64_t>(utf8_length(v.as_string()));
    case Kind::list: return static_cast<int64_t>(v.items().size());
    case Kind::dict:
    case Kind::ns: return static_cast<int64_t>(v.entries().items.size());
    default: raise("TypeError", "object of type '" + v.type_name() + "' has no len()");
  }
}

// select/reject/selectattr/rejectattr share this: keep items whose test result is `keep`.
Value select_items(const Value& seq, CallArgs& a, bool by_attribute, bool keep) {
  size_t first_test_arg = by_attribute ? 1 : 0;
  Value attribute = by_attribute ? a.get(0, "attribute") : Value::undefined();
  bool has_test_name = a.positional.size() > first_test_arg;
  std::string test = has_test_name ? a.positional[first_test_arg].str() : "";
  CallArgs test_args = rest_args(a, first_test_arg + 1);
  ValueList out;
  for (const auto& item : iterate(seq)) {
    Value probe = by_attribute ? attribute_path(item, attribute.str()) : item;
    bool r = has_test_name ? apply_test(test, probe, test_args) : probe.truthy();
    if (r == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

std::string indent(const std::string& s, const Value& width, bool first, bool blank) {
  std::string pad = width.is_string() ? width.as_string() : std::string(width.as_int(), ' ');
  std::vector<std::string> lines;
  std::string text = s + "\n";
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += "\n";
    bool add = i > 0 && (blank || !lines[i].empty());
    out += (add ? pad : "") + lines[i];
  }
  return first ? pad + out : out;
}

Value round_value(const Value& v, CallArgs& a) {
  int64_t precision = a.get(0, "precision", Value(0)).as_int();
  std::string method = a.get(1, "method", Value("common")).str();
  if (!v.is_number()) raise("TypeError", "type " + v.type_name() + " doesn't define __round__");
  if (method == "common" && !v.is_float()) return Value(v.as_int());
  double x = v.as_float();
  if (method == "common" && precision >= 0 && precision <= 300 && std::isfinite(x)) {
    // Python's round() is correctly rounded on the exact binary value, halves to even;
    // glibc's printf rounds the same way.
    char buf[400];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(precision), x);
    return Value(std::strtod(buf, nullptr));
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "common") return Value(std::nearbyint(x * scale) / scale);
  if (method == "ceil") return Value(std::ceil(x * scale) / scale);
  if (method == "floor") return Value(std::floor(x * scale) / scale);
  raise("FilterArgumentError", "method must be common, ceil or floor");
}

Value to_int(const Value& v, CallArgs& a) {
  v.require_defined();
  Value fallback = a.get(0, "default", Value(0));
  int64_t base = a.get(1, "base", Value(10)).as_int();
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float())
    return std::isfinite(v.as_float()) ? Value(static_cast<int64_t>(v.as_float())) : fallback;
  if (v.is_string()) {
    std::string s = v.as_string();
    size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
    if (b == std::string::npos) return fallback;
    s = s.substr(b, e - b + 1);
    try {
      size_t used = 0;
      int64_t r = std::stoll(s, &used, static_cast<int>(base));
      if (used == s.size()) return Value(r);
      double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d)) return Value(static_cast<int64_t>(d));
    } catch (...) {
    }
  }
  return fallback;
}

Value to_float(const Value& v, CallArgs& a) {
  v.require_defined();
  Value fallback = a.get(0, "default", Value(0.0));
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    try {
      size_t used = 0;
      double d = std::stod(v.as_string(), &used);
      if (used == v.as_string().size()) return Value(d);
    } catch (...) {
    }
  }
  return fallback;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

Value tojson(const Value& v, CallArgs& a) {
  a.check("tojson", 4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonFormat f;
  f.ensure_ascii = a.get(0, "ensure_ascii", Value(false)).truthy();
  Value ind = a.get(1, "indent", Value::none());
  if (ind.is_int() || ind.is_bool()) {
    f.indent = std::string(std::max<int64_t>(ind.as_int(), 0), ' ');
  } else if (ind.is_string()) {
    f.indent = ind.as_string();
  } else if (!ind.is_none()) {
    raise("TypeError", "tojson indent must be an int or a string");
  }
  Value sep = a.get(2, "separators", Value::none());
  if (!sep.is_none()) {
    if (!sep.is_list() || sep.items().size() != 2 || !sep.items()[0].is_string() ||
        !sep.items()[1].is_string()) {
      raise("ValueError", "tojson separators must be a pair of strings");
    }
    f.item_separator = sep.items()[0].as_string();
    f.key_separator = sep.items()[1].as_string();
  }
  f.sort_keys = a.get(3, "sort_keys", Value(false)).truthy();
  return Value(to_json(v, f));
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
  bool cs = a.get(0, "case_sensitive", Value(false)).truthy();
  Value attr = a.get(1, "attribute", Value::none());
  ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    int c = compare_values(sort_key(items[i], attr, cs), sort_key(items[best], attr, cs));
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}

const std::map<std::string, FilterFn>& registry() {
  static const std::map<std::string, FilterFn> filters = [] {
    std::map<std::string, FilterFn> f;
    f["abs"] = [](const Value& v, CallArgs&) {
      if (!v.is_number()) raise("TypeError", "bad operand type for abs(): '" + v.type_name() + "'");
      if (v.is_float()) return Value(std::fabs(v.as_float()));
      return v.as_int() < 0 ? unary_op("-", v) : Value(v.as_int());
    };
    // Python getattr() only: dict keys are not attributes.
    f["attr"] = [](const Value& v, CallArgs& a) {
      std::string name = a.get(0, "name").str();
      if (v.is_namespace()) return get_attribute(v, name);
      v.require_defined();
      return lookup_method(v, name);
    };
    f["batch"] = [](const Value& v, CallArgs& a) {
      int64_t n = a.get(0, "linecount").as_int();
      if (n <= 0) raise("ValueError", "batch size must be positive");
      Value fill = a.get(1, "fill_with", Value::none());
      ValueList out, cur;
      for (const auto& item : iterate(v)) {
        cur.push_back(item);
        if (static_cast<int64_t>(cur.size()) == n)
          out.push_back(Value::list(std::exchange(cur, {})));
      }
      if (!cur.empty()) {
        while (!fill.is_none() && static_cast<int64_t>(cur.size()) < n) cur.push_back(fill);
        out.push_back(Value::list(std::move(cur)));
      }
      return Value::list(std::move(out));
    };
    f["capitalize"] = [](const Value& v, CallArgs&) {
      CallArgs none;
      return call_value(lookup_method(Value(v.str()), "capitalize"), none);
    };
    f["center"] = [](const Value& v, CallArgs& a) {
      CallArgs args;
      args.positional.push_back(a.get(0, "width", Value(80)));
      return call_value(lookup_method(Value(v.str()), "center"), args);
    };
    f["count"] = f["length"] = [](const Value& v, CallArgs&) { return Value(length(v)); };
    f["default"] = f["d"] = [](const Value& v, CallArgs& a) {
      bool boolean = a.get(1, "boolean", Value(false)).truthy();
      if (v.is_undefined() || (boolean && !v.truthy())) return a.get(0, "default_value", Value(""));
      return v;
    };
    f["dictsort"] = [](const Value& v, CallArgs& a) {
      if (!v.is_dict()) raise("TypeError", "dictsort expects a mapping");
      bool cs = a.get(0, "case_sensitive", Value(false)).truthy();
      std::string by = a.get(1, "by", Value("key")).str();
      bool reverse = a.get(2, "reverse", Value(false)).truthy();
      size_t pos = by == "key" ? 0 : by == "value" ? 1 : 2;
      if (pos == 2)
        raise("FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
      ValueList items;
      for (const auto& [k, x] : v.entries().items) items.push_back(Value::tuple({k, x}));
      std::stable_sort(items.begin(), items.end(), [&](const Value& l, const Value& r) {
        int c = compare_values(sort_key(l.items()[pos], Value::none(), cs),
                               sort_key(r.items()[pos], Value::none(), cs));
        return reverse ? c > 0 : c < 0;
      });
      return Value::list(std::move(items));
    };
    f["escape"] = f["e"] =
        f["forceescape"] = [](const Value& v, CallArgs&) { return Value(html_escape(v.str())); };
    f["first"] = [](const Value& v, CallArgs&) {
      ValueList items = iterate(v);
      return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
    };
    f["last"] = [](const Value& v, CallArgs&) {
      ValueList items = iterate(v);
      return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
    };
    f["float"] = to_float;
    f["int"] = to_int;
    f["format"] = [](const Value& v, CallArgs& a) {
      if (!a.keywords.empty()) {
        Value d = Value::dict();
        for (const auto& [k, x] : a.keywords) d.entries().set(Value(k), x);
        return Value(percent_format(v.str(), d));
      }
      return Value(percent_format(v.str(), Value::tuple(a.positional)));
    };
    f["indent"] = [](const Value& v, CallArgs& a) {
      v.require_defined();
      return Value(indent(v.str(), a.get(0, "width", Value(4)),
                          a.get(1, "first", Value(false)).truthy(),
                          a.get(2, "blank", Value(false)).truthy()));
    };
    f["items"] = [](const Value& v, CallArgs&) {
      if (v.is_undefined()) return Value::list();
      if (!v.is_dict()) raise("TypeError", "Can only get item pairs from a mapping.");
      ValueList out;
      for (const auto& [k, x] : v.entries().items) out.push_back(Value::tuple({k, x}));
      return Value::list(std::move(out));
    };
    f["join"] = [](const Value& v, CallArgs& a) {
      std::string sep = a.get(0, "d", Value("")).str();
      Value attr = a.get(1, "attribute", Value::none());
      std::string out;
      bool first = true;
      for (const auto& item : iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += (attr.is_none() ? item : attribute_path(item, attr.str())).str();
      }
      return Value(out);
    };
    f["list"] = [](const Value& v, CallArgs&) { return Value::list(iterate(v)); };
    f["lower"] = [](const Value& v, CallArgs&) { return Value(lower(v.str())); };
    f["upper"] = [](const Value& v, CallArgs&) { return Value(upper(v.str())); };
    f["map"] = [](const Value& v, CallArgs& a) {
      ValueList out;
      if (!v.truthy()) return Value::list();
      const Value* attr = a.keyword("attribute");
      if (attr) {
        const Value* given = a.keyword("default");
        Value fallback = given ? *given : Value::undefined();
        for (const auto& item : iterate(v)) {
          Value r = attribute_path(item, attr->str());
          out.push_back(r.is_undefined() && !fallback.is_undefined() ? fallback : r);
        }
      } else {
        if (a.positional.empty()) raise("FilterArgumentError", "map requires a filter argument");
        std::string name = a.positional[0].str();
        if (!has_filter(name)) raise("TemplateAssertionError", "No filter named '" + name + "'.");
        CallArgs rest = rest_args(a, 1);
        for (const auto& item : iterate(v)) out.push_back(apply_filter(name, item, rest));
      }
      return Value::list(std::move(out));
    };
    f["max"] = [](const Value& v, CallArgs& a) { return min_max(v, a, true); };
    f["min"] = [](const Value& v, CallArgs& a) { return min_max(v, a, false); };
    f["reject"] = [](const Value& v, CallArgs& a) { return select_items(v, a, false, false); };
    f["rejectattr"] = [](const Value& v, CallArgs& a) { return select_items(v, a, true, false); };
    f["select"] = [](const Value& v, CallArgs& a) { return select_items(v, a, false, true); };
    f["selectattr"] = [](const Value& v, CallArgs& a) { return select_items(v, a, true, true); };
    f["replace"] = [](const Value& v, CallArgs& a) {
      CallArgs args;
      args.positional = {Value(a.get(0, "old").str()), Value(a.get(1, "new").str())};
      Value count = a.get(2, "count", Value::none());
      if (!count.is_none()) args.positional.push_back(count);
      return call_value(lookup_method(Value(v.str()), "replace"), args);
    };
    f["reverse"] = [](const Value& v, CallArgs&) {
      if (v.is_string()) {
        std::u32string u = utf8_decode(v.as_string());
        std::reverse(u.begin(), u.end());
        return Value(utf8_encode(u));
      }
      ValueList items = iterate(v);
      std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    };
    f["round"] = round_value;
    f["safe"] = [](const Value& v, CallArgs&) { return v; };
    f["sort"] = [](const Value& v, CallArgs& a) {
      bool reverse = a.get(0, "reverse", Value(false)).truthy();
      bool cs = a.get(1, "case_sensitive", Value(false)).truthy();
      Value attr = a.get(2, "attribute", Value::none());
      ValueList items = iterate(v);
      std::stable_sort(items.begin(), items.end(), [&](const Value& l, const Value& r) {
        int c = compare_values(sort_key(l, attr, cs), sort_key(r, attr, cs));
        return reverse ? c > 0 : c < 0;
      });
      return Value::list(std::move(items));
    };
    f["string"] = [](const Value& v, CallArgs&) { return Value(v.str()); };
    f["sum"] = [](const Value& v, CallArgs& a) {
      Value attr = a.get(0, "attribute", Value::none());
      Value total = a.get(1, "start", Value(0));
      for (const auto& item : iterate(v)) {
        total = binary_op("+", total, attr.is_none() ? item : attribute_path(item, attr.str()));
      }
      return total;
    };
    f["title"] = [](const Value& v, CallArgs&) {
      // jinja2 capitalizes words split at whitespace, '-', and opening brackets.
      std::string out;
      bool word_start = true;
      for (char32_t c : utf8_decode(v.str())) {
        bool sep = is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        utf8_append(out, sep ? c : word_start ? to_upper(c) : to_lower(c));
        word_start = sep;
      }
      return Value(out);
    };
    f["tojson"] = tojson;
    f["trim"] = [](const Value& v, CallArgs& a) {
      CallArgs args;
      Value chars = a.get(0, "chars", Value::none());
      args.positional.push_back(chars);
      return call_value(lookup_method(Value(v.str()), "strip"), args);
    };
    f["unique"] = [](const Value& v, CallArgs& a) {
      bool cs = a.get(0, "case_sensitive", Value(false)).truthy();
      Value attr = a.get(1, "attribute", Value::none());
      ValueList out, seen;
      for (const auto& item : iterate(v)) {
        Value k = sort_key(item, attr, cs);
        bool dup = false;
        for (const auto& s : seen) dup = dup || values_equal(s, k);
        if (dup) continue;
        seen.push_back(k);
        out.push_back(item);
      }
      return Value::list(std::move(out));
    };
    f["wordcount"] = [](const Value& v, CallArgs&) {
      int64_t n = 0;
      bool in_word = false;
      for (char32_t c : utf8_decode(v.str())) {
        bool w = is_alpha(c) || is_digit(c) || c == '_';
        if (w && !in_word) ++n;
        in_word = w;
      }
      return Value(n);
    };
    return f;
  }();
  return filters;
}

}  // namespace

bool has_filter(const std::string& name) { return registry().count(name) > 0; }

Value apply_filter(const std::string& name, const Value& input, CallArgs& args) {
  auto it = registry().find(name);
  if (it == registry().end()) raise("TemplateAssertionError", "No filter named '" + name + "'.");
  return it->second(input, args);
}

}  // namespace lathe::jinja
