// Request errors of the HTTP server: what a handler throws for a bad request, the JSON bodies
// both APIs answer with, and readers of request fields that name the field at fault.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace lathe::server {

// A request the server refuses: HTTP status (4xx, or 501 for what lathe does not do yet) and
// a message for the client.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

[[noreturn]] void bad_request(const std::string& message);  // 400

// Ollama answers {"error": "..."}; OpenAI {"error": {"message", "type", "param", "code"}}.
enum class ErrorStyle { ollama, openai };
ErrorStyle error_style_for(const std::string& path);
void set_error(httplib::Response& res, int status, const std::string& message, ErrorStyle style);

// 404 for unknown routes, 413 for bodies over the limit, 500 for what escapes a handler, all
// with JSON bodies in the style of the path's API.
void install_error_handlers(httplib::Server& server);

// The body as a JSON object; malformed JSON or another JSON type is a 400.
nlohmann::json parse_body(const httplib::Request& req);

// Optional fields of a JSON object (`where` names it in messages, e.g. "options."): absent or
// null gives nothing, the wrong type is a 400 naming the field and the type it got.
std::optional<std::string> get_string(const nlohmann::json& obj, const std::string& key,
                                      const std::string& where = "");
std::optional<double> get_number(const nlohmann::json& obj, const std::string& key,
                                 const std::string& where = "");
std::optional<int64_t> get_integer(const nlohmann::json& obj, const std::string& key,
                                   const std::string& where = "");
std::optional<bool> get_bool(const nlohmann::json& obj, const std::string& key,
                             const std::string& where = "");
// A string or a list of strings (stop sequences).
std::vector<std::string> get_strings(const nlohmann::json& obj, const std::string& key,
                                     const std::string& where = "");
// A required non-empty string.
std::string require_string(const nlohmann::json& obj, const std::string& key,
                           const std::string& where = "");

}  // namespace lathe::server
