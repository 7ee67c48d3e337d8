// generate() on the tiny transformers fixtures (tests/data/models): greedy ids equal
// transformers' greedy_ids while the reference's top-2 margin is clear, with any prefill
// chunking. Skipped for architectures this build does not register yet.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lathe/engine/generate.h"
#include "lathe/io/safetensors.h"
#include "lathe/lathe.h"

namespace lathe {
namespace {

std::string fixture(const std::string& name) {
  return std::string(LATHE_SOURCE_DIR) + "/tests/data/models/" + name;
}

bool registered(const std::string& name) {
  std::ifstream f(fixture(name) + "/config.json");
  if (!f) return false;
  auto type = nlohmann::json::parse(f).value("model_type", "");
  auto types = supported_model_types();
  return std::find(types.begin(), types.end(), type) != types.end();
}

std::vector<int32_t> ids_of(Array a) { return astype(a, int32).to_vector<int32_t>(); }

class FixtureGenerate : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureGenerate, GreedyIdsMatchTransformers) {
  const std::string name = GetParam();
  if (!registered(name)) GTEST_SKIP() << name << "'s architecture is not registered yet";
  auto ref = io::load_safetensors(fixture(name) + "/reference.safetensors");
  auto prompt = ids_of(ref.at("input_ids"));
  auto want = ids_of(ref.at("greedy_ids"));
  auto margin = ref.at("greedy_margin").to_vector<float>();
  LoadOptions lo;
  lo.dtype = float32;
  auto model = load_model(fixture(name), lo);
  keep(model->weights());
  for (int chunk : {2048, 5}) {
    GenerateOptions o;
    o.max_tokens = static_cast<int>(want.size());
    o.sampler.temperature = 0;
    o.ignore_eos = true;
    o.prefill_chunk = chunk;
    auto r = generate(*model, prompt, o);
    ASSERT_EQ(r.ids.size(), want.size()) << name;
    for (size_t i = 0; i < want.size() && margin[i] > 1e-3f; ++i)
      EXPECT_EQ(r.ids[i], want[i]) << name << " chunk " << chunk << " step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, FixtureGenerate,
                         ::testing::Values("llama-tiny", "llama-tied", "llama-linear-rope",
                                           "llama-dynamic-rope", "llama-bf16", "llama-sharded",
                                           "llama3-legacy-config", "qwen2-tiny", "qwen3-tiny",
                                           "gemma3-text-tiny", "gemma3-text-legacy-config",
                                           "gemma3-mm-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

TEST(FixtureGenerateText, LlamaTiedGreedyTextMatchesTransformers) {
  if (!registered("llama-tied")) GTEST_SKIP() << "llama is not registered yet";
  const std::string dir = fixture("llama-tied");
  auto ref = io::load_safetensors(dir + "/reference.safetensors");
  std::ifstream f(dir + "/reference.json");
  auto meta = nlohmann::json::parse(f);
  auto tok = text::Tokenizer::from_dir(dir);
  auto prompt = tok.encode(meta.at("text_prompt").get<std::string>(), true);
  ASSERT_EQ(prompt, ids_of(ref.at("text_input_ids")));
  auto want = ids_of(ref.at("text_greedy_ids"));
  auto model = load_model(dir);
  keep(model->weights());
  GenerateOptions o;
  o.max_tokens = static_cast<int>(want.size());
  o.sampler.temperature = 0;
  o.ignore_eos = true;
  std::string streamed;
  o.on_text = [&](std::string_view s) { streamed += s; };
  auto r = generate(*model, tok, prompt, o);
  EXPECT_EQ(r.ids, want);
  EXPECT_EQ(r.text, meta.at("text_greedy_decoded").get<std::string>());
  EXPECT_EQ(streamed, r.text);
}

}  // namespace
}  // namespace lathe
