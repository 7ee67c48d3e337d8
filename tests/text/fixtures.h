// Access to the committed tokenizer fixtures under tests/data/tokenizers.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace lathe::testing {

inline std::filesystem::path tokenizer_fixtures() {
  return std::filesystem::path(LATHE_SOURCE_DIR) / "tests" / "data" / "tokenizers";
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
  return nlohmann::json::parse(read_text(p));
}

// Every fixture directory holding cases.json, sorted by name.
inline std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(tokenizer_fixtures()))
    if (e.is_directory() && std::filesystem::exists(e.path() / "cases.json"))
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace lathe::testing
