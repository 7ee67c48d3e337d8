// Bad requests become 4xx answers with a JSON body; nothing a client sends ends the server.
#include "lathe/server/errors.h"

#include <httplib.h>

#include <cmath>

namespace lathe::server {

namespace {

std::string type_name(const nlohmann::json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

[[noreturn]] void wrong_type(const std::string& field, const char* expected,
                             const nlohmann::json& v) {
  bad_request("'" + field + "' must be " + expected + ", got " + type_name(v) + " " +
              v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).substr(0, 80));
}

const nlohmann::json* field(const nlohmann::json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const char* openai_type(int status) {
  if (status == 404) return "not_found_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

}  // namespace

void bad_request(const std::string& message) { throw RequestError(400, message); }

ErrorStyle error_style_for(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 ? ErrorStyle::openai : ErrorStyle::ollama;
}

void set_error(httplib::Response& res, int status, const std::string& message, ErrorStyle style) {
  nlohmann::json body;
  if (style == ErrorStyle::openai) {
    body["error"] = {
        {"message", message}, {"type", openai_type(status)}, {"param", nullptr}, {"code", nullptr}};
  } else {
    body["error"] = message;
  }
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}

void install_error_handlers(httplib::Server& server) {
  // Called for every answer of status >= 400; handlers that set a body keep it.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg;
    if (res.status == 404) {
      msg = "no route " + req.method + " " + req.path;
    } else if (res.status == 413) {
      msg = "the request body is larger than the server accepts";
    } else if (res.status == 405) {
      msg = "method " + req.method + " is not allowed on " + req.path;
    } else {
      msg = "the request could not be served (HTTP " + std::to_string(res.status) + ")";
    }
    set_error(res, res.status, msg, error_style_for(req.path));
  });
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string msg = "internal error";
        int status = 500;
        try {
          std::rethrow_exception(ep);
        } catch (const RequestError& e) {
          status = e.status();
          msg = e.what();
        } catch (const std::exception& e) {
          msg = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        set_error(res, status, msg, error_style_for(req.path));
      });
}

nlohmann::json parse_body(const httplib::Request& req) {
  if (req.body.empty()) bad_request("the request body is empty (expected a JSON object)");
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) bad_request("the request body is not valid JSON");
  if (!body.is_object())
    bad_request(std::string("the request body must be a JSON object, got ") + body.type_name());
  return body;
}

std::optional<std::string> get_string(const nlohmann::json& obj, const std::string& key,
                                      const std::string& where) {
  const auto* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(where + key, "a string", *v);
  return v->get<std::string>();
}

std::optional<double> get_number(const nlohmann::json& obj, const std::string& key,
                                 const std::string& where) {
  const auto* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(where + key, "a number", *v);
  return v->get<double>();
}

std::optional<int64_t> get_integer(const nlohmann::json& obj, const std::string& key,
                                   const std::string& where) {
  const auto* v = field(obj, key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  // JavaScript clients send integers as doubles; 3.0 is 3, 3.5 is not an integer.
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return static_cast<int64_t>(d);
  }
  wrong_type(where + key, "an integer", *v);
}

std::optional<bool> get_bool(const nlohmann::json& obj, const std::string& key,
                             const std::string& where) {
  const auto* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(where + key, "a boolean", *v);
  return v->get<bool>();
}

std::vector<std::string> get_strings(const nlohmann::json& obj, const std::string& key,
                                     const std::string& where) {
  const auto* v = field(obj, key);
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) wrong_type(where + key, "a string or a list of strings", *v);
  std::vector<std::string> out;
  for (const auto& s : *v) {
    if (!s.is_string()) wrong_type(where + key + "[]", "a string", s);
    if (s.get_ref<const std::string&>().empty())
      bad_request("'" + where + key + "' holds an empty string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::string require_string(const nlohmann::json& obj, const std::string& key,
                           const std::string& where) {
  auto s = get_string(obj, key, where);
  if (!s) bad_request("'" + where + key + "' is required");
  if (s->empty()) bad_request("'" + where + key + "' is empty");
  return *s;
}

}  // namespace lathe::server
