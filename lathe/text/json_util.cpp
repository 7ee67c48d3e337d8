// JsonPath and the typed getters used by every component factory.
#include "lathe/text/json_util.h"

#include "lathe/core/error.h"
#include "lathe/text/utf8.h"

namespace lathe::text {

JsonPath JsonPath::operator/(std::string_view key) const {
  return JsonPath(file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

JsonPath JsonPath::operator[](size_t index) const {
  return JsonPath(file_, path_ + "[" + std::to_string(index) + "]");
}

std::string JsonPath::describe() const {
  return file_ + ": field '" + (path_.empty() ? "<root>" : path_) + "'";
}

void JsonPath::fail(std::string_view what) const {
  throw Error("[tokenizer] " + file_ + ": field '" + (path_.empty() ? "<root>" : path_) +
              "': " + std::string(what));
}

const Json& require(const Json& j, const JsonPath& at, const char* key) {
  if (!j.is_object()) at.fail("expected an object");
  auto it = j.find(key);
  if (it == j.end()) (at / key).fail("missing");
  return *it;
}

std::string get_string(const Json& j, const JsonPath& at, const char* key) {
  const Json& v = require(j, at, key);
  if (!v.is_string()) (at / key).fail("expected a string, got " + std::string(v.type_name()));
  return v.get<std::string>();
}

std::string get_string_or(const Json& j, const JsonPath& at, const char* key, std::string def) {
  if (!j.is_object()) at.fail("expected an object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_string()) (at / key).fail("expected a string, got " + std::string(it->type_name()));
  return it->get<std::string>();
}

bool get_bool_or(const Json& j, const JsonPath& at, const char* key, bool def) {
  if (!j.is_object()) at.fail("expected an object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) (at / key).fail("expected a boolean, got " + std::string(it->type_name()));
  return it->get<bool>();
}

int64_t get_int(const Json& j, const JsonPath& at, const char* key) {
  const Json& v = require(j, at, key);
  if (!v.is_number_integer())
    (at / key).fail("expected an integer, got " + std::string(v.type_name()));
  return v.get<int64_t>();
}

char32_t get_char(const Json& j, const JsonPath& at, const char* key) {
  std::string s = get_string(j, at, key);
  if (s.empty() || find_invalid_utf8(s) != std::string::npos)
    (at / key).fail("expected one character");
  size_t i = 0;
  char32_t c = next_codepoint(s, i);
  if (i != s.size()) (at / key).fail("expected one character, got '" + s + "'");
  return c;
}

std::string get_type(const Json& j, const JsonPath& at) {
  if (!j.is_object()) at.fail("expected an object, got " + std::string(j.type_name()));
  return get_string(j, at, "type");
}

}  // namespace lathe::text
