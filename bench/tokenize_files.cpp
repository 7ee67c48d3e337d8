// Encode throughput of one tokenizer over whole text files, single-threaded:
// the same measurement bench/tokenize_files.py makes with the tokenizers
// library, so both can run in one command on one machine.
// usage: bench_tokenize_files TOKENIZER_DIR FILE... (prints JSON lines)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "lathe/text/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR FILE...\n", argv[0]);
    return 2;
  }
  auto tok = lathe::text::Tokenizer::from_dir(argv[1]);
  for (int i = 2; i < argc; ++i) {
    std::ifstream f(argv[i], std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    const std::string text = ss.str();
    double best = 1e30;
    size_t tokens = 0;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      auto ids = tok.encode(text, false);
      auto t1 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(ids.data());
      tokens = ids.size();
      best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
    }
    std::printf(
        "{\"impl\": \"lathe\", \"file\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"seconds\": "
        "%.4f, \"MB_s\": %.2f}\n",
        argv[i], text.size(), tokens, best, text.size() / best / 1e6);
  }
  return 0;
}
