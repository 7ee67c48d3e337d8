// Python's json.dumps for Jinja values: transformers' `tojson` filter calls it with
// ensure_ascii, indent, separators and sort_keys, and templates depend on its exact spacing.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lathe/text/jinja/interpreter.h"
#include "lathe/text/jinja/unicode.h"

namespace lathe::jinja {

namespace {

void quote(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  for (char32_t c : utf8_decode(s)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    char buf[16];
    if (c < 0x20 || (ensure_ascii && c >= 0x80)) {
      if (c >= 0x10000) {
        char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xd800 | (v >> 10)),
                      static_cast<unsigned>(0xdc00 | (v & 0x3ff)));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      utf8_append(out, c);
    }
  }
  out.push_back('"');
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return format_float(d);
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonFormat& f)
      : f_(f),
        item_sep_(f.item_separator ? *f.item_separator : (f.indent ? "," : ", ")),
        key_sep_(f.key_separator ? *f.key_separator : ": ") {}

  void write(const Value& v, int level) {
    if (level > 500) raise("RecursionError", "maximum recursion depth exceeded in tojson");
    if (out_.size() > kMaxValueBytes) raise("MemoryError", "tojson output too large");
    switch (v.kind()) {
      case Kind::none: out_ += "null"; return;
      case Kind::boolean: out_ += v.as_bool() ? "true" : "false"; return;
      case Kind::integer: out_ += std::to_string(v.as_int()); return;
      case Kind::floating: out_ += float_json(v.as_float()); return;
      case Kind::string: quote(out_, v.as_string(), f_.ensure_ascii); return;
      case Kind::list: {
        if (v.items().empty()) {
          out_ += "[]";
          return;
        }
        out_ += "[";
        for (size_t i = 0; i < v.items().size(); ++i) {
          out_ += i ? item_sep_ : "";
          newline(level + 1);
          write(v.items()[i], level + 1);
        }
        newline(level);
        out_ += "]";
        return;
      }
      case Kind::dict: {
        if (v.entries().items.empty()) {
          out_ += "{}";
          return;
        }
        std::vector<std::pair<Value, Value>> items = v.entries().items;
        if (f_.sort_keys) {
          std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
            return compare_values(a.first, b.first) < 0;
          });
        }
        out_ += "{";
        for (size_t i = 0; i < items.size(); ++i) {
          out_ += i ? item_sep_ : "";
          newline(level + 1);
          quote(out_, key_string(items[i].first), f_.ensure_ascii);
          out_ += key_sep_;
          write(items[i].second, level + 1);
        }
        newline(level);
        out_ += "}";
        return;
      }
      default: raise("TypeError", "Object of type " + v.type_name() + " is not JSON serializable");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  static std::string key_string(const Value& k) {
    switch (k.kind()) {
      case Kind::string: return k.as_string();
      case Kind::integer: return std::to_string(k.as_int());
      case Kind::floating: return float_json(k.as_float());
      case Kind::boolean: return k.as_bool() ? "true" : "false";
      case Kind::none: return "null";
      default:
        raise("TypeError", "keys must be str, int, float, bool or None, not " + k.type_name());
    }
  }
  void newline(int level) {
    if (!f_.indent) return;
    out_ += "\n";
    for (int i = 0; i < level; ++i) out_ += *f_.indent;
  }

  const JsonFormat& f_;
  std::string item_sep_;
  std::string key_sep_;
  std::string out_;
};

}  // namespace

std::string to_json(const Value& v, const JsonFormat& format) {
  JsonWriter w(format);
  w.write(v, 0);
  return w.take();
}

}  // namespace lathe::jinja
