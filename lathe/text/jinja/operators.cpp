// Python operator semantics for the Jinja interpreter: int/float arithmetic with floor
// division and modulo, string and list concatenation and repetition, and `%` formatting.
#include <cmath>
#include <cstdio>

#include "lathe/text/jinja/interpreter.h"

namespace lathe::jinja {

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  raise("TypeError", "unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
                         b.type_name() + "'");
}

void check_size(size_t n) {
  if (n > kMaxValueBytes) {
    raise("MemoryError", "result of " + std::to_string(n) + " bytes/items exceeds the limit");
  }
}

Value repeat(const Value& seq, int64_t times) {
  if (times <= 0) return seq.is_string() ? Value(std::string()) : Value::list();
  size_t unit = seq.is_string() ? seq.as_string().size() : seq.items().size();
  if (unit > 0 && static_cast<uint64_t>(times) > kMaxValueBytes / unit)
    check_size(kMaxValueBytes + 1);
  if (seq.is_string()) {
    std::string out;
    out.reserve(unit * times);
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  ValueList out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

void check_overflow(bool overflow) {
  if (overflow) raise("OverflowError", "integer result does not fit in 64 bits");
}

Value int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  for (int64_t i = 0; i < exp; ++i) {
    check_overflow(__builtin_mul_overflow(result, base, &result));
    if (result == 0 || result == 1) break;
  }
  return Value(result);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.str() + b.str();
    check_size(s.size());
    return Value(std::move(s));
  }
  a.require_defined();
  b.require_defined();
  bool numeric = a.is_number() && b.is_number();
  bool any_float = a.is_float() || b.is_float();
  if (op == "+") {
    if (numeric) {
      if (any_float) return Value(a.as_float() + b.as_float());
      int64_t r;
      check_overflow(__builtin_add_overflow(a.as_int(), b.as_int(), &r));
      return Value(r);
    }
    if (a.is_string() && b.is_string()) {
      check_size(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      check_size(a.items().size() + b.items().size());
      ValueList out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return a.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (a.is_string() || a.is_list()) {
      raise("TypeError", "can only concatenate " + a.type_name() + " (not \"" + b.type_name() +
                             "\") to " + a.type_name());
    }
    unsupported("+", a, b);
  }
  if (op == "*") {
    if (numeric) {
      if (any_float) return Value(a.as_float() * b.as_float());
      int64_t r;
      check_overflow(__builtin_mul_overflow(a.as_int(), b.as_int(), &r));
      return Value(r);
    }
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
    if ((a.is_string() || a.is_list()) && b.is_float()) {
      raise("TypeError", "can't multiply sequence by non-int of type 'float'");
    }
    unsupported("*", a, b);
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.as_string(), b));
  if (!numeric) unsupported(op == "**" ? "** or pow()" : op, a, b);
  if (op == "-") {
    if (any_float) return Value(a.as_float() - b.as_float());
    int64_t r;
    check_overflow(__builtin_sub_overflow(a.as_int(), b.as_int(), &r));
    return Value(r);
  }
  if (op == "/") {
    if (b.as_float() == 0) raise("ZeroDivisionError", "division by zero");
    return Value(a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (any_float) {
      double x = a.as_float(), y = b.as_float();
      if (y == 0) raise("ZeroDivisionError", "float floor division by zero");
      double m = std::fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      if (op == "%") return Value(m);
      return Value(std::floor((x - m) / y + 0.5));
    }
    int64_t x = a.as_int(), y = b.as_int();
    if (y == 0) raise("ZeroDivisionError", "integer division or modulo by zero");
    check_overflow(x == INT64_MIN && y == -1);
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) {
      m += y;
      --q;
    }
    return Value(op == "%" ? m : q);
  }
  if (op == "**") {
    if (!any_float && b.as_int() >= 0) return int_pow(a.as_int(), b.as_int());
    double x = a.as_float(), y = b.as_float();
    if (x == 0 && y < 0) raise("ZeroDivisionError", "0.0 cannot be raised to a negative power");
    return Value(std::pow(x, y));
  }
  raise("TypeError", "unknown operator " + op);
}

Value unary_op(const std::string& op, const Value& a) {
  a.require_defined();
  if (!a.is_number()) {
    raise("TypeError", "bad operand type for unary " + op + ": '" + a.type_name() + "'");
  }
  if (op == "+") return a.is_bool() ? Value(a.as_int()) : a;
  if (a.is_float()) return Value(-a.as_float());
  int64_t r;
  check_overflow(__builtin_sub_overflow(int64_t{0}, a.as_int(), &r));
  return Value(r);
}

std::string percent_format(const std::string& fmt, const Value& args) {
  ValueList positional = args.is_tuple() ? args.items() : ValueList{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) raise("ValueError", "incomplete format");
    if (fmt[i] == '%') {
      out.push_back('%');
      continue;
    }
    Value arg;
    bool have_arg = false;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos) raise("ValueError", "incomplete format key");
      if (!args.is_dict()) raise("TypeError", "format requires a mapping");
      const Value* v = args.entries().find(fmt.substr(i + 1, close - i - 1));
      if (!v) raise("KeyError", repr_string(fmt.substr(i + 1, close - i - 1)));
      arg = *v;
      have_arg = true;
      i = close + 1;
    }
    std::string spec = "%";
    while (i < fmt.size() && std::string("-+ #0123456789.").find(fmt[i]) != std::string::npos) {
      spec.push_back(fmt[i++]);
    }
    if (i >= fmt.size()) raise("ValueError", "incomplete format");
    char conv = fmt[i];
    if (!have_arg) {
      if (next >= positional.size()) raise("TypeError", "not enough arguments for format string");
      arg = positional[next++];
    }
    char buf[512];
    if (conv == 's' || conv == 'r' || conv == 'a') {
      std::string s = conv == 's' ? arg.str() : arg.repr();
      spec += 's';
      std::snprintf(buf, sizeof(buf), spec.c_str(), s.c_str());
      out += s.size() + 64 > sizeof(buf) ? s : std::string(buf);
    } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
      if (!arg.is_number()) {
        raise("TypeError", std::string("%") + conv + " format: a real number is required, not " +
                               arg.type_name());
      }
      spec += "ll";
      spec += conv == 'i' ? 'd' : conv;
      std::snprintf(
          buf, sizeof(buf), spec.c_str(),
          static_cast<long long>(arg.is_float() ? std::trunc(arg.as_float()) : arg.as_int()));
      out += buf;
    } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'E' || conv == 'g' ||
               conv == 'G') {
      if (!arg.is_number()) {
        raise("TypeError", "must be real number, not " + arg.type_name());
      }
      spec += conv;
      std::snprintf(buf, sizeof(buf), spec.c_str(), arg.as_float());
      out += buf;
    } else {
      raise("ValueError", std::string("unsupported format character '") + conv + "'");
    }
  }
  if (!args.is_dict() && next < positional.size()) {
    raise("TypeError", "not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace lathe::jinja
