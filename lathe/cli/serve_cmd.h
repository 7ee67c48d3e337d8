// `lathe serve`: the Ollama- and OpenAI-compatible HTTP server.
#pragma once

namespace lathe::cli {

// argv[1] is "serve".
int serve_command(int argc, char** argv);

}  // namespace lathe::cli
