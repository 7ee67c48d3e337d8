// Llama, Mistral, Qwen2 and Qwen3 on tiny random models: logits against a
// float64 reference forward, chunked prefill and step-by-step decode against
// one pass, bad folders, and flat memory over a long generation loop.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lathe/models/model.h"
#include "tiny_models.h"

namespace lathe::testing {
namespace {

class Decoder : public ::testing::Test {
 protected:
  void SetUp() override { eval(); }
};

Array tokens(const std::vector<int>& ids, size_t start, size_t n) {
  std::vector<int32_t> v(ids.begin() + start, ids.begin() + start + n);
  return array(v, {1, static_cast<int64_t>(n)});
}

// Logits [T, V] of `ids` fed in chunks of the given sizes (one pass when empty).
Host run_chunks(LanguageModel& model, const std::vector<int>& ids, std::vector<int> chunks = {}) {
  if (chunks.empty()) chunks = {static_cast<int>(ids.size())};
  KVCaches caches = model.make_caches(1, 64);
  Host out{{0, model.vocab_size()}, {}};
  size_t start = 0;
  for (int c : chunks) {
    Array logits = model.forward(tokens(ids, start, c), caches);
    EXPECT_EQ(logits.dtype(), float32);
    EXPECT_EQ(logits.shape(), (Shape{1, c, model.vocab_size()}));
    keep(cache_state(caches));
    Host h = to_host(logits);
    out.data.insert(out.data.end(), h.data.begin(), h.data.end());
    out.shape[0] += c;
    start += c;
  }
  return out;
}

std::unique_ptr<LanguageModel> load(const std::string& dir, std::optional<Dtype> dtype = {}) {
  LoadOptions opts;
  opts.dtype = dtype;
  auto model = load_model(dir, opts);
  keep(model->weights());
  return model;
}

const std::vector<int> kIds = {1, 5, 9, 33, 2, 17, 17, 4, 30, 11, 0, 36, 8, 21, 3, 12, 7, 25};

struct Case {
  std::string name;
  TinySpec spec;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  TinySpec base;
  out.push_back({"llama_gqa", base});
  TinySpec s = base;
  s.tie = true;
  s.kv_heads = 1;
  out.push_back({"llama_tied_mqa", s});
  s = base;
  s.explicit_head_dim = true;
  s.head_dim = 12;
  s.attention_bias = true;
  s.mlp_bias = true;
  s.kv_heads = 4;
  out.push_back({"llama_head_dim_biases", s});
  s = base;
  s.rope_scaling = {{"rope_type", "llama3"},
                    {"factor", 8.0},
                    {"low_freq_factor", 1.0},
                    {"high_freq_factor", 4.0},
                    {"original_max_position_embeddings", 16}};
  s.theta = 500000;
  out.push_back({"llama_rope_llama3", s});
  s = base;
  s.rope_scaling = {{"type", "linear"}, {"factor", 4.0}};
  out.push_back({"llama_rope_linear", s});
  s = base;
  s.rope_scaling = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  s.max_positions = 8;  // shorter than the sequence: the base is rescaled
  out.push_back({"llama_rope_dynamic", s});
  s = base;
  s.new_rope_form = true;
  s.rope_scaling = {{"rope_type", "linear"}, {"factor", 2.0}};
  out.push_back({"llama_rope_parameters", s});
  s = base;
  s.model_type = "mistral";
  s.window = 5;
  s.sliding = {true, true};
  out.push_back({"mistral_window", s});
  s = base;
  s.model_type = "qwen2";
  s.tie = true;
  out.push_back({"qwen2", s});
  s = base;
  s.model_type = "qwen2";
  s.window = 4;
  s.layers = 3;
  s.sliding = {false, true, true};
  out.push_back({"qwen2_sliding", s});
  s = base;
  s.model_type = "qwen3";
  s.head_dim = 16;
  out.push_back({"qwen3", s});
  s = base;
  s.model_type = "qwen3";
  s.new_rope_form = true;
  s.theta = 1000000;
  out.push_back({"qwen3_rope_parameters", s});
  TinySpec g = base;
  g.model_type = "gemma3_text";
  g.tie = true;
  g.layers = 4;
  g.head_dim = 16;
  g.window = 5;
  g.sliding = {true, true, false, true};
  g.query_pre_attn_scalar = 12;
  g.final_softcap = 30.0;
  g.theta = 1000000;
  g.new_rope_form = true;
  out.push_back({"gemma3_text", g});
  s = g;
  s.new_rope_form = false;
  s.layers = 3;
  s.sliding = {true, false, true};  // sliding_window_pattern 2
  s.rope_scaling = {{"rope_type", "linear"}, {"factor", 4.0}};
  s.attn_softcap = 20.0;
  out.push_back({"gemma3_text_legacy_softcap", s});
  s = g;
  s.model_type = "gemma3";
  s.weight_prefix = "language_model.model.";
  s.rope_scaling = {{"rope_type", "linear"}, {"factor", 8.0}};
  out.push_back({"gemma3_mm", s});
  s.weight_prefix = "model.language_model.";
  s.tie = false;
  s.kv_heads = 1;
  out.push_back({"gemma3_mm_current_layout_untied", s});
  return out;
}

TEST_F(Decoder, Float32LogitsMatchTheFloat64Reference) {
  for (const auto& c : cases()) {
    auto w = tiny_weights(c.spec, 7);
    std::string dir = write_tiny_model(c.spec, w, float32, c.name);
    auto model = load(dir);
    EXPECT_EQ(model->model_type(), c.spec.model_type);
    Host want = reference_logits(c.spec, w, kIds);
    double err = max_rel_error(run_chunks(*model, kIds), want);
    EXPECT_LE(err, 1e-4) << c.name;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3e", err);
    RecordProperty(c.name + "_f32_err", buf);
  }
}

TEST_F(Decoder, Bfloat16LogitsMatchTheFloat64Reference) {
  for (const auto& c : cases()) {
    auto w = tiny_weights(c.spec, 7);
    std::string dir = write_tiny_model(c.spec, w, bfloat16, c.name + "_bf16");
    Host want = reference_logits(c.spec, w, kIds);
    auto model = load(dir);
    double err = max_rel_error(run_chunks(*model, kIds), want);
    EXPECT_LE(err, 3e-2) << c.name;
    // LoadOptions::dtype computes the bfloat16 checkpoint in float32.
    auto model32 = load(dir, float32);
    EXPECT_LE(max_rel_error(run_chunks(*model32, kIds), want), 1e-4) << c.name;
  }
}

TEST_F(Decoder, ChunkedPrefillAndDecodeEqualOnePass) {
  for (const auto& c : cases()) {
    if (c.name == "llama_rope_dynamic")
      continue;  // its frequencies depend on each forward's length
    auto w = tiny_weights(c.spec, 11);
    auto model = load(write_tiny_model(c.spec, w, float32, c.name + "_chunks"));
    Host one = run_chunks(*model, kIds);
    for (const auto& chunks : std::vector<std::vector<int>>{
             {5, 1, 7, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {17, 1}}) {
      EXPECT_TRUE(close(run_chunks(*model, kIds, chunks), one, {1e-5, 1e-5})) << c.name;
    }
  }
}

TEST_F(Decoder, DynamicRopeFollowsEachForwardsLength) {
  // transformers rescales the base from the longest position of each call, so
  // chunks past max_position_embeddings rotate with their own scale.
  TinySpec s;
  s.rope_scaling = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  s.max_positions = 8;
  auto w = tiny_weights(s, 3);
  auto model = load(write_tiny_model(s, w, float32, "dynamic_steps"));
  for (const auto& chunks : std::vector<std::vector<int>>{{11, 1, 1, 5}, {4, 4, 1, 9}, {18}}) {
    Host want = reference_logits(s, w, kIds, chunks);
    EXPECT_LE(max_rel_error(run_chunks(*model, kIds, chunks), want), 1e-4);
  }
  // Back within the original length: the original frequencies return.
  EXPECT_LE(max_rel_error(run_chunks(*model, {1, 2, 3}), reference_logits(s, w, {1, 2, 3})), 1e-4);
}

TEST_F(Decoder, GreedyContinuationMatchesTheReference) {
  TinySpec s;
  auto w = tiny_weights(s, 5);
  auto model = load(write_tiny_model(s, w, float32, "greedy"));
  std::vector<int> ids = {3, 14, 15, 9, 2, 6};
  KVCaches caches = model->make_caches(1, 32);
  Array logits = model->forward(tokens(ids, 0, ids.size()), caches);
  std::vector<int> seq = ids;
  for (int step = 0; step < 8; ++step) {
    Array next = argmax(slice_axis(logits, 1, -1, logits.shape(1)), -1);
    keep(cache_state(caches));
    int id = static_cast<int>(next.item<int32_t>());
    // The reference's argmax over a full recomputation.
    Host ref = reference_logits(s, w, seq);
    int best = 0;
    for (int v = 1; v < s.vocab; ++v) {
      if (ref[(seq.size() - 1) * s.vocab + v] > ref[(seq.size() - 1) * s.vocab + best]) best = v;
    }
    ASSERT_EQ(id, best) << "step " << step;
    seq.push_back(id);
    logits = model->forward(array(std::vector<int32_t>{id}, {1, 1}), caches);
  }
}

TEST_F(Decoder, BatchOfTwoEqualsEachSequenceAlone) {
  TinySpec s;
  auto w = tiny_weights(s, 5);
  auto model = load(write_tiny_model(s, w, float32, "batch"));
  std::vector<int> a(kIds.begin(), kIds.begin() + 9), b(kIds.begin() + 9, kIds.end());
  std::vector<int32_t> both(a.begin(), a.end());
  both.insert(both.end(), b.begin(), b.end());
  KVCaches caches = model->make_caches(2, 16);
  Host got = to_host(model->forward(array(both, {2, 9}), caches));
  Host ra = reference_logits(s, w, a), rb = reference_logits(s, w, b);
  Host want{{2, 9, s.vocab}, ra.data};
  want.data.insert(want.data.end(), rb.data.begin(), rb.data.end());
  EXPECT_LE(max_rel_error(got, want), 1e-4);
}

}  // namespace
}  // namespace lathe::testing
