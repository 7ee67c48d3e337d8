// Bad model folders and bad forward() arguments: each is a lathe::Error that
// names what is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lathe/io/safetensors.h"
#include "lathe/models/model.h"
#include "tiny_models.h"

namespace lathe::testing {
namespace {

class LoadErrors : public ::testing::Test {
 protected:
  void SetUp() override { eval(); }
};

// The message of the lathe::Error f throws ("" when it throws none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_has(const std::string& msg, const std::vector<std::string>& parts) {
  EXPECT_FALSE(msg.empty()) << "no lathe::Error";
  for (const auto& p : parts)
    EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

TEST_F(LoadErrors, MissingWeightNamesTheTensor) {
  TinySpec s;
  auto w = tiny_weights(s, 1);
  w.erase("model.layers.1.mlp.up_proj.weight");
  std::string dir = write_tiny_model(s, w, float32, "missing_weight");
  expect_has(error_of([&] { load_model(dir); }), {"model.layers.1.mlp.up_proj.weight"});
  w = tiny_weights(s, 1);
  w.erase("model.layers.0.post_attention_layernorm.weight");
  dir = write_tiny_model(s, w, float32, "missing_norm");
  expect_has(error_of([&] { load_model(dir); }),
             {"[load_model]", "missing tensor", "model.layers.0.post_attention_layernorm.weight"});
}

TEST_F(LoadErrors, WrongShapeNamesTheTensorAndBothShapes) {
  TinySpec s;
  auto w = tiny_weights(s, 1);
  w["model.layers.0.self_attn.k_proj.weight"] = random_host({12, 32}, float32, 3);
  std::string dir = write_tiny_model(s, w, float32, "wrong_shape");
  expect_has(error_of([&] { load_model(dir); }),
             {"model.layers.0.self_attn.k_proj.weight", "(12, 32)", "(16, 32)"});
}

TEST_F(LoadErrors, UnknownModelTypeListsTheSupportedOnes) {
  TinySpec s;
  std::string dir = write_tiny_model(s, tiny_weights(s, 1), float32, "unknown_type");
  auto cfg = tiny_config(s);
  cfg["model_type"] = "falcon_mamba";
  std::ofstream(dir + "/config.json") << cfg.dump();
  expect_has(error_of([&] { load_model(dir); }),
             {"falcon_mamba", "llama", "mistral", "qwen2", "qwen3"});
}

TEST_F(LoadErrors, MissingOrMalformedConfigFieldsNameTheField) {
  TinySpec s;
  std::string dir = write_tiny_model(s, tiny_weights(s, 1), float32, "bad_config");
  auto write = [&](const nlohmann::json& j) { std::ofstream(dir + "/config.json") << j.dump(); };
  auto cfg = tiny_config(s);
  cfg.erase("num_hidden_layers");
  write(cfg);
  expect_has(error_of([&] { load_model(dir); }), {"config.json", "num_hidden_layers", "missing"});
  cfg = tiny_config(s);
  cfg["hidden_size"] = "32";
  write(cfg);
  expect_has(error_of([&] { load_model(dir); }), {"config.json", "hidden_size", "integer"});
  cfg = tiny_config(s);
  cfg["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  write(cfg);
  expect_has(error_of([&] { load_model(dir); }), {"config.json", "rope_scaling.low_freq_factor"});
  cfg = tiny_config(s);
  cfg["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 8.0}};
  write(cfg);
  expect_has(error_of([&] { load_model(dir); }), {"rope_scaling.rope_type", "yarn", "supported"});
  cfg = tiny_config(s);
  cfg["num_key_value_heads"] = 3;
  write(cfg);
  expect_has(error_of([&] { load_model(dir); }), {"num_key_value_heads", "3"});
  std::ofstream(dir + "/config.json") << "{ not json";
  expect_has(error_of([&] { load_model(dir); }), {"config.json", "JSON"});
}

TEST_F(LoadErrors, ForwardRejectsBadTokensAndCaches) {
  TinySpec s;
  auto model = load_model(write_tiny_model(s, tiny_weights(s, 1), float32, "bad_forward"));
  keep(model->weights());
  KVCaches caches = model->make_caches(1, 8);
  expect_has(error_of([&] {
               model->forward(array(std::vector<int32_t>{1, 2}), caches);
             }),
             {"[llama.forward]", "(2,)"});
  expect_has(error_of([&] {
               model->forward(ones({1, 2}, float32), caches);
             }),
             {"[llama.forward]", "float32"});
  KVCaches few = model->make_caches(1, 8);
  few.pop_back();
  expect_has(error_of([&] {
               model->forward(array(std::vector<int32_t>{1, 2}, {1, 2}), few);
             }),
             {"expected 2 caches"});
}

TEST_F(LoadErrors, NoWeightFiles) {
  TinySpec s;
  std::string dir = write_tiny_model(s, tiny_weights(s, 1), float32, "no_weights");
  std::filesystem::remove(dir + "/model.safetensors");
  expect_has(error_of([&] { load_model(dir); }), {"no weights", "safetensors"});
}

}  // namespace
}  // namespace lathe::testing
