// A small command-line flag parser for lathe's commands: "--name VALUE", "--name=VALUE",
// switches, repeated flags and positionals, with errors that name the command and the flag.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lathe::cli {

struct FlagSpec {
  std::string name;         // "--max-tokens"
  bool takes_value = true;  // false: a switch
  std::string alias = "";   // "-p"
};

class Flags {
 public:
  // Parses argv[first..argc); unknown flags and missing values throw lathe::Error("[cmd] ...").
  Flags(std::string cmd, const std::vector<FlagSpec>& specs, int argc, char** argv, int first);

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // The last value given for the flag.
  std::optional<std::string> text(const std::string& name) const;
  // Every value, in order (repeatable flags).
  std::vector<std::string> all(const std::string& name) const;
  // The last value as an integer in [lo, hi] / a finite number; anything else throws.
  std::optional<int64_t> integer(const std::string& name, int64_t lo, int64_t hi) const;
  std::optional<double> number(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& command() const { return cmd_; }

 private:
  std::string cmd_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// "1,2,3" -> ids (each in [0, 2^31)); `what` names the flag in errors.
std::vector<int32_t> parse_id_list(const std::string& cmd, const std::string& what,
                                   const std::string& text);

}  // namespace lathe::cli
