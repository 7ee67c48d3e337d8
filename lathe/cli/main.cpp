// The lathe command line: `lathe demo` until text generation lands.
#include <cstdio>
#include <cstring>
#include <string>

#include "lathe/cli/logits_cmd.h"
#include "lathe/cli/make_random_cmd.h"
#include "lathe/cli/quantize_cmd.h"
#include "lathe/cli/render_template_cmd.h"
#include "lathe/cli/run_cmd.h"
#include "lathe/cli/serve_cmd.h"
#include "lathe/cli/tensors_cmd.h"
#include "lathe/cli/tokenize_cmd.h"
#include "lathe/lathe.h"

namespace {

int usage(FILE* f) {
  std::fprintf(f,
               "usage: lathe <command> [options]\n"
               "commands:\n"
               "  run MODEL_DIR -p PROMPT [options]   generate text (lathe run --help)\n"
               "  logits MODEL_DIR --ids 1,2,3 [--top N | --out FILE.npy]\n"
               "            the model's logits for a token sequence\n"
               "  serve --models DIR [--port N] [options]\n"
               "            serve the model folders under DIR with the Ollama and OpenAI APIs\n"
               "  demo      run a small lazy-array computation and print memory figures\n"
               "  render-template TEMPLATE_FILE CONTEXT_JSON [--now ISO8601]\n"
               "            render a chat template with a JSON context\n"
               "  tokenize DIR [--text TEXT] [--add-special]   print token ids as JSON\n"
               "  detokenize DIR --ids 1,2,3 [--skip-special]  print decoded text\n"
               "  tensors MODEL_DIR   list every tensor: name, dtype, shape, file\n"
               "  quantize SRC DST [--bits 4|8] [--group-size 32|64|128]\n"
               "            write an MLX-format quantized copy of a model folder\n"
               "  make-random CONFIG_JSON OUT_DIR [--dtype bf16] [--seed S]\n"
               "            write a model folder with random weights of that config\n"
               "  version   print the version\n");
  return f == stderr ? 2 : 0;
}

int demo() {
  using namespace lathe;
  // A tiny generation-shaped loop: a kept "cache" updated each step, memory flat.
  Array x = ones({4, 4}, float32);
  keep(x);
  Array y = zeros({4, 4}, float32);
  for (int step = 0; step < 100; ++step) {
    Array old = y;
    y = tanh(y * 0.5f + x);
    old.free();
    async_eval(y);
  }
  eval(y);
  auto v = y.to_vector<float>();
  std::printf("tanh fixed point after 100 lazy steps: %.6f\n", v[0]);
  std::printf("active memory: %zu bytes, peak: %zu bytes\n", active_memory(), peak_memory());
  std::printf("%s", live_arrays(3).str().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  std::string cmd = argv[1];
  try {
    if (cmd == "demo") return demo();
    if (cmd == "run") return lathe::cli::run_command(argc, argv);
    if (cmd == "serve") return lathe::cli::serve_command(argc, argv);
    if (cmd == "logits") return lathe::cli::logits_command(argc, argv);
    if (cmd == "render-template") return lathe::cli::render_template_command(argc - 1, argv + 1);
    if (cmd == "tokenize") return lathe::cli::tokenize_command(argc, argv);
    if (cmd == "detokenize") return lathe::cli::detokenize_command(argc, argv);
    if (cmd == "tensors") return lathe::cli::tensors_command(argc, argv);
    if (cmd == "quantize") return lathe::cli::quantize_command(argc, argv);
    if (cmd == "make-random") return lathe::cli::make_random_command(argc, argv);
    if (cmd == "version" || cmd == "--version") {
      std::printf("lathe 0.1.0\n");
      return 0;
    }
    if (cmd == "-h" || cmd == "--help" || cmd == "help") return usage(stdout);
    std::fprintf(stderr, "lathe: unknown command '%s'\n", cmd.c_str());
    return usage(stderr);
  } catch (const lathe::Error& e) {
    std::fprintf(stderr, "lathe: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lathe: %s\n", e.what());
    return 1;
  }
}
