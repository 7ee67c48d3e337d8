// `lathe serve`: an HTTP server speaking the Ollama and OpenAI APIs over the model folders of
// one directory.
#pragma once

#include <memory>

#include "lathe/server/context.h"

namespace lathe::server {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; returns the port (a free one when options.port is 0). Throws
  // lathe::Error when the address cannot be bound.
  int bind();
  // Serves until stop(); bind() first.
  void run();
  // Stops accepting, ends running generations at their next step, returns at once; run()
  // returns when the last connection is done. Callable from any thread (not from a signal
  // handler).
  void stop();

  Context& context();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lathe::server
