// What every route of a running server shares: its options, models and generation workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

#include "lathe/server/model_pool.h"
#include "lathe/server/scheduler.h"

namespace httplib {
class Server;
}

namespace lathe::server {

inline constexpr const char* kLatheVersion = "0.1.0";

struct ServerOptions {
  std::string models_dir;
  std::string host = "127.0.0.1";
  int port = 11434;  // 0: any free port
  int parallel = 1;
  PoolOptions pool;
  // Context when a request names none (Ollama's num_ctx default), capped by the model's own.
  int default_num_ctx = 4096;
  size_t max_body_bytes = 16u << 20;
  int http_threads = 64;
};

struct Context {
  explicit Context(ServerOptions o)
      : options(std::move(o)),
        pool(options.models_dir, options.pool),
        scheduler(options.parallel) {}
  ServerOptions options;
  ModelPool pool;
  Scheduler scheduler;
  // Set when the server stops: running generations end at their next step.
  std::atomic<bool> stopping{false};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // Finished generations, those cancelled (client gone, server stopping), and their tokens.
  std::atomic<uint64_t> generations{0}, cancelled{0}, generated_tokens{0};
};

// The routes of each API (ollama_api.cpp, openai_api.cpp).
void add_ollama_routes(httplib::Server& http, Context& ctx);
void add_openai_routes(httplib::Server& http, Context& ctx);

}  // namespace lathe::server
