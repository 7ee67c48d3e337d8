// The global functions templates call: jinja2's range/dict/namespace (range capped as the
// sandbox caps it) and transformers' strftime_now.
#include <chrono>

#include "lathe/text/jinja/interpreter.h"

namespace lathe::jinja {

namespace {

// jinja2's sandbox refuses ranges longer than this (MAX_RANGE).
constexpr size_t kMaxRange = 100000;

void merge_into(Value& target, const CallArgs& a, const char* fn) {
  for (const auto& p : a.positional) {
    if (!p.is_dict()) raise("TypeError", std::string(fn) + "() positional arguments must be dicts");
    for (const auto& kv : p.entries().items) target.entries().set(kv.first, kv.second);
  }
  for (const auto& kv : a.keywords) target.entries().set(Value(kv.first), kv.second);
}

}  // namespace

Value global_range(CallArgs& a) {
  a.check("range", 3, {});
  if (a.positional.empty()) raise("TypeError", "range expected at least 1 argument, got 0");
  for (const auto& v : a.positional) {
    if (!v.is_int() && !v.is_bool()) {
      raise("TypeError", "'" + v.type_name() + "' object cannot be interpreted as an integer");
    }
  }
  int64_t start = 0, stop = 0, stride = 1;
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() == 3) stride = a.positional[2].as_int();
  }
  if (stride == 0) raise("ValueError", "range() arg 3 must not be zero");
  ValueList out;
  for (int64_t i = start; stride > 0 ? i < stop : i > stop; i += stride) {
    if (out.size() >= kMaxRange) {
      raise("OverflowError",
            "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    out.emplace_back(i);
  }
  return Value::list(std::move(out));
}

Value global_dict(CallArgs& a) {
  Value d = Value::dict();
  merge_into(d, a, "dict");
  return d;
}

Value global_namespace(CallArgs& a) {
  Value ns = Value::namespace_object();
  merge_into(ns, a, "namespace");
  return ns;
}

std::string strftime_now(const Value& format, const std::optional<std::tm>& now) {
  if (!format.is_string()) raise("TypeError", "strftime_now() expects a format string");
  std::tm tm{};
  if (now) {
    tm = *now;
  } else {
    std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    localtime_r(&t, &tm);
  }
  // Normalizes and fills in the weekday and day of year, in UTC so no DST shift applies.
  std::time_t t = timegm(&tm);
  gmtime_r(&t, &tm);
  const std::string& fmt = format.as_string();
  if (fmt.empty()) return "";
  // strftime returns 0 both for an empty result and for a too small buffer.
  for (size_t size : {size_t{256}, size_t{1} << 16}) {
    std::string buf(size, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) return buf.substr(0, n);
  }
  return "";
}

}  // namespace lathe::jinja
