// A lathe server started in-process on a free loopback port, serving tests/data/server/models,
// and small helpers to talk to it with cpp-httplib's client.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lathe/server/server.h"

namespace lathe::testing {

using json = nlohmann::json;

inline std::string models_dir() {
  return std::string(LATHE_SOURCE_DIR) + "/tests/data/server/models";
}

class RunningServer {
 public:
  explicit RunningServer(server::ServerOptions o = defaults()) : server_(std::move(o)) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
    // Ready once it answers.
    for (int i = 0; i < 200; ++i) {
      if (auto r = client().Get("/"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  static server::ServerOptions defaults() {
    server::ServerOptions o;
    o.models_dir = models_dir();
    o.port = 0;
    o.parallel = 4;
    o.http_threads = 32;
    return o;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30);
    return c;
  }
  int port() const { return port_; }
  server::Server& server() { return server_; }

 private:
  server::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// POSTs a JSON body; the response must exist.
inline httplib::Result post(const RunningServer& s, const std::string& path, const json& body) {
  return s.client().Post(path, body.dump(), "application/json");
}

inline json body_of(const httplib::Result& r) { return json::parse(r->body); }

// NDJSON lines / SSE "data:" payloads of a streamed body.
inline std::vector<json> ndjson_lines(const std::string& body) {
  std::vector<json> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    if (end > start) out.push_back(json::parse(body.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t start = 0;
  while ((start = body.find("data: ", start)) != std::string::npos) {
    size_t end = body.find("\n\n", start);
    out.push_back(body.substr(start + 6, end - start - 6));
    start = end;
  }
  return out;
}

}  // namespace lathe::testing
