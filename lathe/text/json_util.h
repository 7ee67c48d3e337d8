// Typed access to tokenizer JSON with errors that name the file and the field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lathe::text {

using Json = nlohmann::json;

// Where a JSON value sits: the file it came from and its dotted path inside it.
class JsonPath {
 public:
  JsonPath(std::string file, std::string path) : file_(std::move(file)), path_(std::move(path)) {}
  JsonPath operator/(std::string_view key) const;
  JsonPath operator[](size_t index) const;
  [[noreturn]] void fail(std::string_view what) const;
  const std::string& file() const { return file_; }
  // "FILE: field 'PATH'", for errors raised elsewhere (a regex that does not compile).
  std::string describe() const;

 private:
  std::string file_;
  std::string path_;
};

const Json& require(const Json& j, const JsonPath& at, const char* key);
std::string get_string(const Json& j, const JsonPath& at, const char* key);
std::string get_string_or(const Json& j, const JsonPath& at, const char* key, std::string def);
bool get_bool_or(const Json& j, const JsonPath& at, const char* key, bool def);
int64_t get_int(const Json& j, const JsonPath& at, const char* key);
// The single character of a string field (Metaspace replacement, Strip content).
char32_t get_char(const Json& j, const JsonPath& at, const char* key);
// The "type" tag of a component object.
std::string get_type(const Json& j, const JsonPath& at);

}  // namespace lathe::text
