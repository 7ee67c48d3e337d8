// The shipped model (models/lathe-tiny-en) against the numbers transformers
// computed for it in the run that trained it: held-out perplexity to 0.1% and
// the greedy samples of tests/data/shipped/samples.json.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lathe/io/safetensors.h"
#include "lathe/lathe.h"
#include "lathe/models/model.h"

namespace lathe {
namespace {

const std::string kModel = std::string(LATHE_SOURCE_DIR) + "/models/lathe-tiny-en";
const std::string kData = std::string(LATHE_SOURCE_DIR) + "/tests/data/shipped";

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

TEST(ShippedModel, HeldOutPerplexityAgreesWithTransformers) {
  if (!std::filesystem::exists(kModel + "/config.json")) GTEST_SKIP() << "no " << kModel;
  eval();
  LoadOptions opts;
  opts.dtype = float32;  // transformers' figure: float32 widened from the stored bfloat16
  auto model = load_model(kModel, opts);
  keep(model->weights());
  Array windows = io::load_safetensors(kData + "/heldout.safetensors").at("input_ids");
  keep(windows);
  const int64_t n = windows.shape(0), t = windows.shape(1);
  const int64_t batch = 8;
  double nll_sum = 0;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    Array ids = astype(slice(windows, {b0, 0}, {b0 + batch, t}), int32);
    KVCaches caches = model->make_caches(static_cast<int>(batch), static_cast<int>(t));
    Array logits = model->forward(ids, caches);  // [B, T, V]
    // NLL of token t+1 given the prefix up to t.
    Array pred = slice(logits, {0, 0, 0}, {batch, t - 1, logits.shape(2)});
    Array next = expand_dims(slice(ids, {0, 1}, {batch, t}), 2);
    Array picked = squeeze(take_along_axis(pred, next, 2), {2});
    Array nll = sum(logsumexp(pred, {2}) - picked);
    eval(nll);
    nll_sum += nll.item<float>();
  }
  const double nll = nll_sum / double(n * (t - 1));
  const double ref_nll =
      read_json(kData + "/metrics.json")["heldout_nll_cpu_float32"].get<double>();
  const double ppl = std::exp(nll), ref_ppl = std::exp(ref_nll);
  EXPECT_NEAR(ppl / ref_ppl, 1.0, 1e-3) << "lathe ppl " << ppl << " vs transformers " << ref_ppl;
  std::printf("held-out perplexity: lathe %.5f, transformers %.5f (ratio %.6f)\n", ppl, ref_ppl,
              ppl / ref_ppl);
}

TEST(ShippedModel, GreedySamplesMatchTransformers) {
  if (!std::filesystem::exists(kModel + "/config.json")) GTEST_SKIP() << "no " << kModel;
  eval();
  LoadOptions opts;
  opts.dtype = float32;
  auto model = load_model(kModel, opts);
  keep(model->weights());
  auto samples = read_json(kData + "/samples.json");
  ASSERT_FALSE(samples.empty());
  for (const auto& s : samples) {
    auto prompt = s["prompt_ids"].get<std::vector<int32_t>>();
    auto want = s["greedy_ids"].get<std::vector<int32_t>>();
    KVCaches caches = model->make_caches(1, static_cast<int>(prompt.size() + want.size() + 1));
    Array logits = model->forward(array(prompt, {1, static_cast<int64_t>(prompt.size())}), caches);
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
      Array last =
          slice(logits, {0, logits.shape(1) - 1, 0}, {1, logits.shape(1), logits.shape(2)});
      int32_t id = static_cast<int32_t>(argmax(reshape(last, {-1}), 0).item<uint32_t>());
      got.push_back(id);
      if (i + 1 == want.size()) break;
      logits = model->forward(array<int32_t>({id}, {1, 1}), caches);
      keep(cache_state(caches));
      eval(logits);
    }
    EXPECT_EQ(got, want) << s.dump().substr(0, 200);
  }
}

}  // namespace
}  // namespace lathe
