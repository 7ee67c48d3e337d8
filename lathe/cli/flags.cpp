// Flag parsing shared by `lathe run` and `lathe logits`.
#include "lathe/cli/flags.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "lathe/core/error.h"

namespace lathe::cli {

Flags::Flags(std::string cmd, const std::vector<FlagSpec>& specs, int argc, char** argv, int first)
    : cmd_(std::move(cmd)) {
  auto find = [&](const std::string& s) -> const FlagSpec* {
    for (const auto& f : specs)
      if (f.name == s || (!f.alias.empty() && f.alias == s)) return &f;
    return nullptr;
  };
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) {
      positional_.push_back(a);
      continue;
    }
    std::optional<std::string> inline_value;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    const FlagSpec* spec = find(a);
    if (!spec)
      throw Error("[" + cmd_ + "] unknown option '" + a + "' (see lathe " + cmd_ + " --help)");
    if (!spec->takes_value) {
      if (inline_value) throw Error("[" + cmd_ + "] " + spec->name + " takes no value");
      values_[spec->name].push_back("");
      continue;
    }
    if (inline_value) {
      values_[spec->name].push_back(*inline_value);
    } else {
      if (i + 1 >= argc) throw Error("[" + cmd_ + "] " + spec->name + " needs a value");
      values_[spec->name].push_back(argv[++i]);
    }
  }
}

std::optional<std::string> Flags::text(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Flags::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::optional<int64_t> Flags::integer(const std::string& name, int64_t lo, int64_t hi) const {
  auto t = text(name);
  if (!t) return std::nullopt;
  const std::string& s = *t;
  const char* last = s.data() + s.size();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), last, v);
  if (ec != std::errc() || end != last)
    throw Error("[" + cmd_ + "] " + name + " needs an integer, got '" + s + "'");
  if (v < lo || v > hi)
    throw Error("[" + cmd_ + "] " + name + " must be in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], got " + s);
  return v;
}

std::optional<double> Flags::number(const std::string& name) const {
  auto t = text(name);
  if (!t) return std::nullopt;
  char* end = nullptr;
  double v = t->empty() ? NAN : std::strtod(t->c_str(), &end);
  if (t->empty() || end != t->c_str() + t->size() || !std::isfinite(v))
    throw Error("[" + cmd_ + "] " + name + " needs a finite number, got '" + *t + "'");
  return v;
}

std::vector<int32_t> parse_id_list(const std::string& cmd, const std::string& what,
                                   const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    std::string part = text.substr(i, j - i);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    int64_t v = -1;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v < 0 ||
        v > INT32_MAX) {
      std::string msg = "[" + cmd + "] bad token id '";
      msg += part;
      msg += "' in ";
      msg += what;
      msg += " (expected comma-separated non-negative integers)";
      throw Error(msg);
    }
    ids.push_back(static_cast<int32_t>(v));
    i = j + 1;
  }
  return ids;
}

}  // namespace lathe::cli
