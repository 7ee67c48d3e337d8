// Every tiny model of tests/data/models against transformers' reference
// (float32 forward, greedy continuation with its KV cache): one-pass,
// chunked-prefill and step-by-step logits, bfloat16 within a looser bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "lathe/io/safetensors.h"
#include "lathe/engine/decode_steps.h"
#include "lathe/models/decoder.h"
#include "lathe/models/model.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

std::string fixture_dir(const std::string& name) {
  return std::string(LATHE_SOURCE_DIR) + "/tests/data/models/" + name;
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> out;
  const std::string root = std::string(LATHE_SOURCE_DIR) + "/tests/data/models";
  if (!std::filesystem::is_directory(root)) return out;
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    if (e.is_directory() && std::filesystem::exists(e.path() / "reference.safetensors")) {
      out.push_back(e.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ‖got - want‖ / ‖want‖ and max |got - want| / max |want|.
struct Errors {
  double l2 = 0, max = 0;
};
Errors errors(const Host& got, const Host& want) {
  double d2 = 0, w2 = 0, dmax = 0, wmax = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = got[i] - want[i];
    d2 += d * d;
    w2 += want[i] * want[i];
    dmax = std::max(dmax, std::abs(d));
    wmax = std::max(wmax, std::abs(want[i]));
  }
  return {std::sqrt(d2 / w2), dmax / wmax};
}

class Fixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    eval();
    ref_ = io::load_safetensors(fixture_dir(GetParam()) + "/reference.safetensors");
    for (auto& [k, v] : ref_) keep(v);
  }

  std::unique_ptr<LanguageModel> load(std::optional<Dtype> dtype) {
    LoadOptions opts;
    opts.dtype = dtype;
    auto model = load_model(fixture_dir(GetParam()), opts);
    keep(model->weights());
    return model;
  }

  std::vector<int32_t> ids(const std::string& name) {
    auto v = ref_.at(name).to_vector<int64_t>();
    return {v.begin(), v.end()};
  }

  // Logits [1, T, V] of `tokens` fed in chunks.
  Host run(LanguageModel& model, const std::vector<int32_t>& tokens, std::vector<int> chunks = {}) {
    if (chunks.empty()) chunks = {static_cast<int>(tokens.size())};
    KVCaches caches = model.make_caches(1, static_cast<int>(tokens.size()) + 16);
    Host out{{1, 0, model.vocab_size()}, {}};
    size_t start = 0;
    for (int c : chunks) {
      std::vector<int32_t> part(tokens.begin() + start, tokens.begin() + start + c);
      Array logits = model.forward(array(part, {1, c}), caches);
      keep(cache_state(caches));
      Host h = to_host(logits);
      out.data.insert(out.data.end(), h.data.begin(), h.data.end());
      out.shape[1] += c;
      start += c;
    }
    return out;
  }

  void record(const std::string& what, const Errors& e) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "l2 %.3e max %.3e", e.l2, e.max);
    RecordProperty(what, buf);
  }

  std::map<std::string, Array> ref_;
};

TEST_P(Fixture, Float32LogitsMatchTransformers) {
  auto model = load(float32);
  Errors e = errors(run(*model, ids("input_ids")), to_host(ref_.at("logits")));
  record("float32", e);
  EXPECT_LE(e.l2, 1e-4);
  EXPECT_LE(e.max, 1e-4);
  if (ref_.count("long_logits")) {
    Errors l = errors(run(*model, ids("long_input_ids")), to_host(ref_.at("long_logits")));
    record("float32_long", l);
    EXPECT_LE(l.l2, 1e-4);
    EXPECT_LE(l.max, 1e-4);
  }
}

TEST_P(Fixture, Bfloat16LogitsAreClose) {
  auto model = load(bfloat16);
  Errors e = errors(run(*model, ids("input_ids")), to_host(ref_.at("logits")));
  record("bfloat16", e);
  EXPECT_LE(e.l2, 3e-2);
  if (ref_.count("logits_bf16_forward")) {
    // A bfloat16 checkpoint in its own dtype, against transformers' bfloat16 forward.
    auto native = load(std::nullopt);
    Errors n = errors(run(*native, ids("input_ids")), to_host(ref_.at("logits_bf16_forward")));
    record("bfloat16_native_vs_transformers_bf16", n);
    EXPECT_LE(n.l2, 3e-2);
  }
}

// q/k/v and gate/up stacked into one matmul each (the GPU's default) give the same logits.
TEST_P(Fixture, StackedProjectionsMatchTransformers) {
  const char* before = std::getenv("LATHE_FUSE_PROJECTIONS");
  const std::string saved = before ? before : "";
  setenv("LATHE_FUSE_PROJECTIONS", "0", 1);
  const size_t separate = load(float32)->weights().size();
  setenv("LATHE_FUSE_PROJECTIONS", "1", 1);
  auto model = load(float32);
  if (before) {
    setenv("LATHE_FUSE_PROJECTIONS", saved.c_str(), 1);
  } else {
    unsetenv("LATHE_FUSE_PROJECTIONS");
  }
  // Each layer holds 3 fewer tensors (q, k, v -> 1 and gate, up -> 1), or more with biases;
  // with q/k norms, one more: their weights side by side for the joint norm of q and k.
  auto* decoder = dynamic_cast<DecoderModel*>(model.get());
  ASSERT_NE(decoder, nullptr);
  const auto layers = static_cast<size_t>(decoder->config().num_hidden_layers);
  const std::string type = decoder->config().model_type;
  const bool qk_norms = type.rfind("gemma3", 0) == 0 || type == "qwen3";
  EXPECT_LE(model->weights().size() + (qk_norms ? 2 : 3) * layers, separate);
  Errors e = errors(run(*model, ids("input_ids")), to_host(ref_.at("logits")));
  record("float32_stacked", e);
  EXPECT_LE(e.l2, 1e-4);
  EXPECT_LE(e.max, 1e-4);
}

TEST_P(Fixture, GreedyContinuationMatchesTransformers) {
  auto model = load(float32);
  const std::vector<int32_t> prompt = ids("input_ids");
  const std::vector<int32_t> want = ids("greedy_ids");
  const std::vector<float> margin = ref_.at("greedy_margin").to_vector<float>();
  KVCaches caches = model->make_caches(1, static_cast<int>(prompt.size() + want.size()));
  Array logits = model->forward(array(prompt, {1, static_cast<int64_t>(prompt.size())}), caches);
  for (size_t step = 0; step < want.size(); ++step) {
    Array next = argmax(slice_axis(logits, 1, -1, logits.shape(1)), -1);
    keep(cache_state(caches));
    const int32_t id = next.item<int32_t>();
    if (margin[step] < 1e-3f) break;  // the reference's top two are too close to call
    ASSERT_EQ(id, want[step]) << "step " << step;
    logits = model->forward(array(std::vector<int32_t>{id}, {1, 1}), caches);
  }
}

TEST_P(Fixture, ChunkedPrefillAndDecodeEqualOnePass) {
  auto model = load(float32);
  // Dynamic rope rescales per forward past max_position_embeddings (as
  // transformers does with a cache), so only its short case is chunk-invariant.
  const bool long_case = ref_.count("long_input_ids") && GetParam() != "llama-dynamic-rope";
  const std::vector<int32_t> tokens = ids(long_case ? "long_input_ids" : "input_ids");
  const Host one = run(*model, tokens);
  std::vector<int> steps(tokens.size(), 1);
  std::vector<int> chunks = {13, 1, 3};
  chunks.push_back(static_cast<int>(tokens.size()) - 17);
  for (const auto& c : {chunks, steps}) {
    Host got = run(*model, tokens, c);
    // float32 sums in another order (chunks, unfused debug builds): bound relative to the
    // logits' scale.
    double scale = 1.0;
    for (double v : one.data) scale = std::max(scale, std::abs(v));
    EXPECT_TRUE(close(got, one, {1e-5, 1e-5 * scale})) << c.size() << " chunks";
    const Host want = to_host(ref_.at(long_case ? "long_logits" : "logits"));
    EXPECT_LE(errors(got, want).max, 1e-4) << c.size() << " chunks";
  }
}

// Logits [1, T, V] of `tokens`: the first `prefill` in one forward, then one token a step
// through `step(tokens [1, 1], caches)`.
template <typename Step>
Host run_steps(LanguageModel& model, const std::vector<int32_t>& tokens, int prefill, Step&& step,
               KVCaches& caches) {
  Host out{{1, 0, model.vocab_size()}, {}};
  auto append = [&](const Array& logits, int n) {
    Host h = to_host(logits);
    out.data.insert(out.data.end(), h.data.begin(), h.data.end());
    out.shape[1] += n;
  };
  std::vector<int32_t> head(tokens.begin(), tokens.begin() + prefill);
  append(model.forward(array(head, {1, prefill}), caches), prefill);
  keep(cache_state(caches));
  for (size_t i = prefill; i < tokens.size(); ++i) {
    Array logits = step(array(std::vector<int32_t>{tokens[i]}, {1, 1}));
    keep(cache_state(caches));
    append(logits, 1);
  }
  return out;
}

// The long case where there is one (sliding windows shorter than it wrap their rings).
std::string logits_case(const std::map<std::string, Array>& ref, const std::string& model) {
  return ref.count("long_input_ids") && model != "llama-dynamic-rope" ? "long_" : "";
}

TEST_P(Fixture, DecodeWithPositionsAsDataMatchesTransformers) {
  auto model = load(float32);
  const std::string which = logits_case(ref_, GetParam());
  const std::vector<int32_t> tokens = ids(which + "input_ids");
  KVCaches caches = model->make_caches(1, static_cast<int>(tokens.size()) + 16);
  if (GetParam() == "llama-dynamic-rope") {
    // Dynamic NTK rescales with the length: not replayable, and says so.
    EXPECT_EQ(model->replayable_until(caches), 0);
    GTEST_SKIP() << "dynamic rope takes positions as host values only";
  }
  const Host got = run_steps(
      *model, tokens, 5,
      [&](const Array& t) {
        EXPECT_GT(model->replayable_until(caches), caches[0]->offset());
        Array position = to_device(Array(caches[0]->offset()), default_device());
        return model->forward_at(t, caches, position);
      },
      caches);
  const Host want = to_host(ref_.at(which + "logits"));
  EXPECT_LE(errors(got, want).max, 1e-4);
}

TEST_P(Fixture, GraphReplayedDecodeMatchesTransformers) {
  if (default_device() != Device::cuda) GTEST_SKIP() << "CUDA graphs need the GPU";
  if (GetParam() == "llama-dynamic-rope") GTEST_SKIP() << "not replayable";
  for (Dtype dtype : {float32, bfloat16}) {
    auto model = load(dtype);
    const std::string which = logits_case(ref_, GetParam());
    const std::vector<int32_t> tokens = ids(which + "input_ids");
    KVCaches caches = model->make_caches(1, static_cast<int>(tokens.size()) + 16);
    DecodeSteps step(*model, caches);
    const Host got = run_steps(*model, tokens, 5, step, caches);
    // Every step after the recorded one is a replay.
    EXPECT_EQ(step.recorded(), 1);
    EXPECT_EQ(step.replayed(), static_cast<int>(tokens.size()) - 5 - 1);
    const Errors e = errors(got, to_host(ref_.at(which + "logits")));
    if (dtype == float32) {
      EXPECT_LE(e.max, 1e-4) << "float32";
    } else {
      EXPECT_LE(e.l2, 3e-2) << "bfloat16";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Fixture, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace lathe::testing
