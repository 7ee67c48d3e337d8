// Renders a parsed Jinja template against a context, the way jinja2's sandboxed environment
// does under transformers' settings; plus the value operations filters and methods share.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>

#include "lathe/text/jinja/ast.h"
#include "lathe/text/jinja/value.h"

namespace lathe::jinja {

struct RenderOptions {
  // What strftime_now() sees; the local time of the call when unset.
  std::optional<std::tm> now;
  // Bounds that keep hostile templates from hanging or exhausting memory.
  size_t max_output_bytes = size_t{64} << 20;
  int max_call_depth = 200;
  uint64_t max_steps = 1'000'000;
};

// Renders `tmpl` with the variables of `context` (a dict). Errors (syntax found late,
// undefined values misused, raise_exception, type errors) throw lathe::Error naming the line.
std::string render(const Template& tmpl, const Value& context, const RenderOptions& options);

// Strings and lists larger than this are refused (string repetition, concatenation).
constexpr size_t kMaxValueBytes = size_t{64} << 20;

// The sandboxed environment's attribute and item access (`x.name`, `x[key]`).
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
Value call_value(const Value& fn, CallArgs& args);

// Operators with Python semantics ("+", "-", "*", "/", "//", "%", "**", "~").
Value binary_op(const std::string& op, const Value& a, const Value& b);
Value unary_op(const std::string& op, const Value& a);
// Python's printf-style `fmt % args`.
std::string percent_format(const std::string& fmt, const Value& args);

// Global functions (globals.cpp): range(), dict(), namespace(), strftime_now().
Value global_range(CallArgs& args);
Value global_dict(CallArgs& args);
Value global_namespace(CallArgs& args);
std::string strftime_now(const Value& format, const std::optional<std::tm>& now);

// Filters (filters.cpp), tests (tests.cpp) and methods of str/list/dict (methods.cpp).
bool has_filter(const std::string& name);
Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
bool has_test(const std::string& name);
bool apply_test(const std::string& name, const Value& input, CallArgs& args);
// A bound method of obj; undefined without a message when obj has no such method, and
// undefined carrying a SecurityError message for methods the sandbox refuses (list.append).
Value lookup_method(const Value& obj, const std::string& name);

struct JsonFormat {
  bool ensure_ascii = false;
  // Indentation per level; none when unset (one line).
  std::optional<std::string> indent;
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
};
// Python's json.dumps with the given options.
std::string to_json(const Value& v, const JsonFormat& format);

}  // namespace lathe::jinja
