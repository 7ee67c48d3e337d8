// Routing and lifecycle of the HTTP server: limits, error handlers, the API routes, and an
// orderly stop (no new connections, generations cancelled, workers joined).
#include "lathe/server/server.h"

#include <httplib.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lathe/core/error.h"
#include "lathe/core/memory.h"
#include "lathe/server/errors.h"

namespace lathe::server {

namespace {

// The process's current resident set (VmRSS), in bytes.
size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long pages = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &pages, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

struct Server::Impl {
  explicit Impl(ServerOptions o) : ctx(std::move(o)) {}
  Context ctx;
  httplib::Server http;
  int port = -1;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  // A client that disconnects makes the next write fail; it must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  auto& http = impl_->http;
  const auto& o = impl_->ctx.options;
  const size_t threads = static_cast<size_t>(std::max(1, o.http_threads));
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(o.max_body_bytes);
  http.set_keep_alive_max_count(1000);
  // An idle kept-alive connection holds a thread, and stop() waits for it: keep it short.
  http.set_keep_alive_timeout(1);
  http.set_read_timeout(30);
  http.set_write_timeout(30);
  install_error_handlers(http);
  add_ollama_routes(http, impl_->ctx);
  add_openai_routes(http, impl_->ctx);
  // lathe's own figures: memory (for leak checks) and the scheduler's load.
  http.Get("/lathe/stats", [ctx = &impl_->ctx](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j;
    j["active_memory"] = active_memory();
    j["peak_memory"] = peak_memory();
    j["cache_memory"] = cache_memory();
    j["resident_bytes"] = resident_bytes();
    j["loaded_models"] = ctx->pool.loaded_count();
    j["queued"] = ctx->scheduler.queued();
    j["busy"] = ctx->scheduler.busy();
    j["parallel"] = ctx->options.parallel;
    j["generations"] = ctx->generations.load();
    j["cancelled"] = ctx->cancelled.load();
    j["generated_tokens"] = ctx->generated_tokens.load();
    res.set_content(j.dump(), "application/json; charset=utf-8");
  });
}

Server::~Server() {
  stop();
  impl_->ctx.scheduler.shutdown();
}

int Server::bind() {
  auto& o = impl_->ctx.options;
  int port = o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(o.host);
  } else if (!impl_->http.bind_to_port(o.host, port)) {
    port = -1;
  }
  if (port < 0)
    throw Error("[serve] cannot listen on " + o.host + ":" + std::to_string(o.port) +
                " (address in use, or not an address of this machine)");
  impl_->port = port;
  return port;
}

void Server::run() {
  if (impl_->port < 0) throw Error("[serve] run() before bind()");
  impl_->http.listen_after_bind();
  // Connections are closed; what is still queued or running was cancelled by stop().
  impl_->ctx.scheduler.shutdown();
}

void Server::stop() {
  impl_->ctx.stopping = true;
  impl_->http.stop();
}

Context& Server::context() { return impl_->ctx; }

}  // namespace lathe::server
