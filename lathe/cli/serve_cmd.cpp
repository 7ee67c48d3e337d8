// `lathe serve --models DIR`: serves every model folder under DIR over HTTP until SIGINT or
// SIGTERM, which stop it in order (no new connections, generations cancelled, workers joined).
#include "lathe/cli/serve_cmd.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "lathe/cli/flags.h"
#include "lathe/cli/model_options.h"
#include "lathe/core/error.h"
#include "lathe/server/errors.h"
#include "lathe/server/server.h"

namespace lathe::cli {

namespace {

const char* kUsage =
    "usage: lathe serve --models DIR [options]\n"
    "  Serves every model folder under DIR (named by its folder) with the Ollama API\n"
    "  (/api/generate, /api/chat, /api/tags, /api/show, /api/ps, /api/version) and the OpenAI\n"
    "  API (/v1/chat/completions, /v1/completions, /v1/models). Ctrl-C stops it.\n"
    "  --models DIR             the folder holding the model folders (required)\n"
    "  --host ADDR              address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N                 port (default 11434; 0 picks a free one)\n"
    "  --device cpu|cuda  --dtype bf16|f16|f32\n"
    "  --tp N                   split each model across N tensor-parallel ranks (threads on "
    "the CPU)\n"
    "  --max-loaded N           models kept loaded at once (default 3; least recently used "
    "goes first)\n"
    "  --keep-alive DURATION    how long an idle model stays loaded: 5m (default), 30s, 1h, 0,\n"
    "                           -1 (forever); requests may set their own keep_alive\n"
    "  --parallel N             generations running at once (default 1); others wait in turn\n"
    "  --num-ctx N              context of requests that set none (default 4096, at most the "
    "model's)\n";

std::vector<FlagSpec> serve_specs() {
  std::vector<FlagSpec> s = model_flag_specs();
  for (const char* v :
       {"--models", "--host", "--port", "--max-loaded", "--keep-alive", "--parallel", "--num-ctx"})
    s.push_back({v});
  return s;
}

[[noreturn]] void fail(const std::string& msg) { throw Error("[serve] " + msg); }

int signal_pipe[2] = {-1, -1};

void on_stop_signal(int sig) {
  const char c = static_cast<char>(sig);
  [[maybe_unused]] ssize_t n = write(signal_pipe[1], &c, 1);
}

}  // namespace

int serve_command(int argc, char** argv) {
  Flags f("serve", serve_specs(), argc, argv, 2);
  if (f.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!f.positional().empty()) fail("unexpected argument '" + f.positional()[0] + "'");
  server::ServerOptions o;
  auto models = f.text("--models");
  if (!models) fail("--models DIR is required (the folder holding the model folders)");
  std::error_code ec;
  if (!std::filesystem::is_directory(*models, ec))
    fail("--models '" + *models + "' is not a folder");
  o.models_dir = *models;
  o.host = f.text("--host").value_or("127.0.0.1");
  o.port = static_cast<int>(f.integer("--port", 0, 65535).value_or(11434));
  o.parallel = static_cast<int>(f.integer("--parallel", 1, 1024).value_or(1));
  o.default_num_ctx = static_cast<int>(f.integer("--num-ctx", 1, INT32_MAX).value_or(4096));
  o.pool.max_loaded = static_cast<int>(f.integer("--max-loaded", 1, 1024).value_or(3));
  if (auto k = f.text("--keep-alive")) {
    try {
      o.pool.keep_alive = server::parse_keep_alive(*k);
    } catch (const server::RequestError& e) {
      fail(std::string("--keep-alive: ") + e.what());
    }
  }
  o.pool.load = load_options(f);
  o.pool.tp = tensor_parallel_ranks(f);

  server::Server srv(o);
  const int port = srv.bind();
  const size_t count = srv.context().pool.list().size();
  // A signal handler may only write to a pipe; a thread reading it stops the server as
  // ordinary code. (Threads made before this point, e.g. BLAS workers, may take the signal.)
  if (pipe(signal_pipe) != 0) fail("cannot create the signal pipe");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::fprintf(stderr, "lathe serve: listening on http://%s:%d (%zu model%s under %s)\n",
               o.host.c_str(), port, count, count == 1 ? "" : "s", o.models_dir.c_str());
  std::fflush(stderr);
  std::thread waiter([&] {
    char sig = 0;
    while (read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // the pipe was closed: the server ended by itself
    std::fprintf(stderr, "lathe serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.stop();
  });
  srv.run();
  close(signal_pipe[1]);
  waiter.join();
  std::fprintf(stderr, "lathe serve: stopped\n");
  return 0;
}

}  // namespace lathe::cli
