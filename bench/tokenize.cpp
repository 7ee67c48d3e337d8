// Encode throughput of lathe's tokenizers on ~1 MiB of the fixture corpus repeated, the same
// text scripts/fixtures/make_tokenizer_fixtures.py --bench times with the tokenizers library.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lathe/text/tokenizer.h"

namespace {

const std::string kData = LATHE_BENCH_DATA;

const std::string& bench_text() {
  static const std::string text = [] {
    std::ifstream f(kData + "/corpus.txt", std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    std::string corpus = ss.str(), t;
    if (corpus.empty()) return t;
    while (t.size() < (1u << 20)) t += corpus;
    return t;
  }();
  return text;
}

void encode_whole(benchmark::State& state, const std::string& name) {
  auto tok = lathe::text::Tokenizer::from_dir(kData + "/" + name);
  const std::string& text = bench_text();
  size_t n = 0;
  for (auto _ : state) {
    auto ids = tok.encode(text, false);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n);
}

void encode_lines(benchmark::State& state, const std::string& name) {
  auto tok = lathe::text::Tokenizer::from_dir(kData + "/" + name);
  const std::string& text = bench_text();
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  for (auto _ : state) {
    for (auto& l : lines) benchmark::DoNotOptimize(tok.encode(l, false).data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

}  // namespace

#define TOKENIZER_BENCH(name)                                                  \
  BENCHMARK_CAPTURE(encode_whole, name, #name)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(encode_lines, name, #name)->Unit(benchmark::kMillisecond);

TOKENIZER_BENCH(bpe_llama3)
TOKENIZER_BENCH(bpe_qwen2)
TOKENIZER_BENCH(bpe_gpt2)
TOKENIZER_BENCH(sp_bpe_llama2)
TOKENIZER_BENCH(wordpiece_bert)
TOKENIZER_BENCH(unigram)

BENCHMARK_MAIN();
