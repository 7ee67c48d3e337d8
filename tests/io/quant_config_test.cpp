// Quantization entries of config.json (MLX with per-module overrides, Hugging
// Face mxfp4) and load_linear's quantized/dense choice and consistency checks.
#include "lathe/io/quant_config.h"

#include <gtest/gtest.h>

#include "io/temp_folder.h"
#include "lathe/io/model_folder.h"
#include "lathe/lathe.h"

namespace lathe::io {
namespace {

using Json = nlohmann::json;
using test::expect_error;

TEST(QuantConfig, AbsentMeansDense) {
  auto q = QuantConfig::from_config(Json::parse(R"({"model_type": "llama"})"), "config.json");
  EXPECT_FALSE(q.quantized());
  EXPECT_FALSE(q.spec_for("model.layers.0.mlp.up_proj"));
  EXPECT_FALSE(
      QuantConfig::from_config(Json::parse(R"({"quantization_config": null})"), "c").quantized());
}

TEST(QuantConfig, MlxFormWithOverrides) {
  auto q = QuantConfig::from_config(Json::parse(R"({"quantization": {
      "group_size": 64, "bits": 4,
      "model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8},
      "model.layers.1.mlp.gate": {"bits": 6},
      "lm_head": false,
      "model.embed_tokens": true,
      "model.layers.2.mlp.experts": {"group_size": 32, "bits": 4, "mode": "mxfp4"}}})"),
                                    "config.json");
  ASSERT_TRUE(q.quantized());
  EXPECT_EQ(q.format(), "mlx");
  EXPECT_EQ(*q.default_spec(), (QuantSpec{64, 4, "affine"}));
  EXPECT_EQ(*q.spec_for("model.layers.3.self_attn.q_proj"), (QuantSpec{64, 4, "affine"}));
  EXPECT_EQ(*q.spec_for("model.layers.0.mlp.down_proj"), (QuantSpec{32, 8, "affine"}));
  EXPECT_EQ(*q.spec_for("model.layers.1.mlp.gate"), (QuantSpec{64, 6, "affine"}));
  EXPECT_EQ(*q.spec_for("model.layers.2.mlp.experts"), (QuantSpec{32, 4, "mxfp4"}));
  EXPECT_EQ(*q.spec_for("model.embed_tokens"), (QuantSpec{64, 4, "affine"}));
  EXPECT_FALSE(q.spec_for("lm_head"));
  // Overrides are exact module paths, as in mlx-lm.
  EXPECT_TRUE(q.spec_for("model.lm_head"));
}

TEST(QuantConfig, MlxModeAndQuantizationConfigFallback) {
  auto q = QuantConfig::from_config(
      Json::parse(R"({"quantization_config": {"group_size": 32, "bits": 4, "mode": "mxfp4"}})"),
      "c");
  EXPECT_EQ(*q.default_spec(), (QuantSpec{32, 4, "mxfp4"}));
  // `quantization` wins when both are present.
  auto both =
      QuantConfig::from_config(Json::parse(R"({"quantization": {"group_size": 128, "bits": 8},
                      "quantization_config": {"group_size": 32, "bits": 2}})"),
                               "c");
  EXPECT_EQ(*both.default_spec(), (QuantSpec{128, 8, "affine"}));
}

TEST(QuantConfig, HuggingFaceMxfp4) {
  auto q = QuantConfig::from_config(Json::parse(R"({"quantization_config": {
      "quant_method": "mxfp4",
      "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                 "model.embed_tokens", "lm_head"]}})"),
                                    "config.json");
  ASSERT_TRUE(q.quantized());
  EXPECT_EQ(q.format(), "hf_mxfp4");
  EXPECT_EQ(*q.spec_for("model.layers.3.mlp.experts.gate_up_proj"), (QuantSpec{32, 4, "mxfp4"}));
  EXPECT_FALSE(q.spec_for("model.layers.3.self_attn.q_proj"));
  EXPECT_FALSE(q.spec_for("model.layers.12.self_attn"));
  EXPECT_FALSE(q.spec_for("model.layers.0.mlp.router"));
  EXPECT_FALSE(q.spec_for("lm_head"));
  EXPECT_FALSE(q.spec_for("model.embed_tokens"));
  EXPECT_TRUE(q.spec_for("model.layers.0.mlp.routers"));  // segment boundaries count
}

TEST(QuantConfig, Refusals) {
  auto parse = [](const char* s) {
    return QuantConfig::from_config(Json::parse(s), "config.json");
  };
  expect_error([&] { parse(R"({"quantization_config": {"quant_method": "gptq", "bits": 4}})"); },
               {"config.json", "gptq"});
  expect_error([&] { parse(R"({"quantization": {"group_size": 64}})"); }, {"\"bits\""});
  expect_error([&] { parse(R"({"quantization": {"group_size": 48, "bits": 4}})"); }, {"48"});
  expect_error([&] { parse(R"({"quantization": {"group_size": 64, "bits": 7}})"); }, {"bits 7"});
  expect_error([&] { parse(R"({"quantization": {"group_size": 64, "bits": 4, "mode": "nf4"}})"); },
               {"nf4"});
  expect_error(
      [&] { parse(R"({"quantization": {"group_size": 64, "bits": 4, "mode": "mxfp4"}})"); },
      {"mxfp4"});
  expect_error([&] { parse(R"({"quantization": {"group_size": "64", "bits": 4}})"); },
               {"group_size"});
  expect_error(
      [&] { parse(R"({"quantization": {"group_size": 64, "bits": 4, "m.x": {"bits": 9}}})"); },
      {"'m.x'"});
  expect_error([&] { parse(R"({"quantization": 4})"); }, {"object"});
}

class LoadLinear : public test::TempFolderTest {
 protected:
  ModelFolder folder(const std::string& cfg, const std::map<std::string, Array>& tensors) {
    write("config.json", cfg);
    save_safetensors(path("model.safetensors"), tensors);
    return ModelFolder::open(dir_.string());
  }
};

TEST_F(LoadLinear, QuantizedIffScalesExist) {
  const char* cfg = R"({"quantization": {"group_size": 32, "bits": 4, "lm_head": {"bits": 8}}})";
  auto m = folder(cfg, {{"q.weight", zeros({4, 8}, uint32)},  // 4 x 64, 4-bit
                        {"q.scales", ones({4, 2}, float16)},
                        {"q.biases", zeros({4, 2}, float16)},
                        {"q.bias", zeros({4}, float16)},
                        {"lm_head.weight", zeros({4, 16}, uint32)},  // 4 x 64, 8-bit
                        {"lm_head.scales", ones({4, 2}, bfloat16)},
                        {"lm_head.biases", ones({4, 2}, bfloat16)},
                        {"norm.weight", ones({64}, float16)},
                        {"dense.weight", ones({3, 64}, float16)}});
  auto q = m.linear("q");
  ASSERT_TRUE(q.quantized());
  EXPECT_EQ(*q.quant, (QuantSpec{32, 4, "affine"}));
  EXPECT_EQ(q.weight.dtype(), uint32);
  EXPECT_EQ(q.scales->shape(), (Shape{4, 2}));
  EXPECT_TRUE(q.biases && q.bias);
  EXPECT_EQ(m.linear("lm_head").quant->bits, 8);
  auto d = m.linear("dense");
  EXPECT_FALSE(d.quantized());
  EXPECT_FALSE(d.scales || d.bias);
  EXPECT_EQ(d.weight.shape(), (Shape{3, 64}));
  expect_error([&] { m.linear("missing"); }, {"'missing'", "no weights"});
}

TEST_F(LoadLinear, InconsistentTensorsAreNamed) {
  auto m = folder(R"({"quantization": {"group_size": 32, "bits": 4, "off": false}})",
                  {{"a.weight", zeros({4, 7}, uint32)},  // should be 8 words for K=64
                   {"a.scales", ones({4, 2}, float16)},
                   {"a.biases", zeros({4, 2}, float16)},
                   {"b.weight", zeros({4, 8}, uint32)},
                   {"b.scales", ones({4, 2}, float16)},
                   {"c.weight", zeros({4, 8}, uint32)},
                   {"c.scales", ones({4, 2}, float16)},
                   {"c.biases", zeros({4, 1}, float16)},
                   {"d.scales", ones({4, 2}, float16)},
                   {"off.weight", zeros({4, 8}, uint32)},
                   {"off.scales", ones({4, 2}, float16)},
                   {"off.biases", zeros({4, 2}, float16)},
                   {"e.weight", zeros({4, 8}, float32)},
                   {"e.scales", ones({4, 2}, float16)},
                   {"e.biases", zeros({4, 2}, float16)}});
  expect_error([&] { m.linear("a"); }, {"'a'", "uint32 [4, 7]", "[4, 2]"});
  expect_error([&] { m.linear("b"); }, {"'b'", "b.biases"});
  expect_error([&] { m.linear("c"); }, {"'c'", "biases", "[4, 1]"});
  expect_error([&] { m.linear("d"); }, {"'d.weight'"});
  expect_error([&] { m.linear("off"); }, {"'off", "not quantized"});
  expect_error([&] { m.linear("e"); }, {"'e'", "float32"});
  auto dense =
      folder(R"({})", {{"a.weight", zeros({4, 8}, uint32)}, {"a.scales", ones({4, 2}, float16)}});
  expect_error([&] { dense.linear("a"); }, {"a.scales", "no quantization"});
}

TEST_F(LoadLinear, GptOssBlocksAndDense) {
  auto m = folder(R"({"quantization_config": {"quant_method": "mxfp4",
                       "modules_to_not_convert": ["model.layers.*.self_attn"]}})",
                  {{"e.gate_up_proj_blocks", zeros({2, 6, 2, 16}, uint8)},  // 2 experts, 6 x 64
                   {"e.gate_up_proj_scales", full({2, 6, 2}, 127.0, uint8)},
                   {"e.gate_up_proj_bias", zeros({2, 6}, bfloat16)},
                   {"e.bad_blocks", zeros({2, 6, 3, 16}, uint8)},
                   {"e.bad_scales", full({2, 6, 2}, 127.0, uint8)},
                   {"model.layers.0.self_attn.q_proj.weight", ones({2, 2}, bfloat16)},
                   {"e.dense_proj", zeros({2, 64, 6}, bfloat16)},
                   {"e.dense_proj_bias", zeros({2, 6}, bfloat16)},
                   {"mx.weight", zeros({6, 8}, uint32)},
                   {"mx.scales", zeros({6, 2}, uint8)}});
  auto b = m.linear("e.gate_up_proj");
  ASSERT_TRUE(b.quantized());
  EXPECT_EQ(*b.quant, (QuantSpec{32, 4, "mxfp4"}));
  EXPECT_EQ(b.weight.shape(), (Shape{2, 6, 2, 16}));
  EXPECT_TRUE(b.bias);
  EXPECT_FALSE(b.biases);
  auto mx = m.linear("mx");
  ASSERT_TRUE(mx.quantized());
  EXPECT_EQ(mx.quant->mode, "mxfp4");
  auto d = m.linear("e.dense_proj");
  EXPECT_FALSE(d.quantized());
  EXPECT_TRUE(d.bias);
  EXPECT_FALSE(m.linear("model.layers.0.self_attn.q_proj").quantized());
  expect_error([&] { m.linear("e.bad"); }, {"'e.bad'", "mxfp4"});
}

}  // namespace
}  // namespace lathe::io
