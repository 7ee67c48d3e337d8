// Model folders: single-file, sharded (with every index validation failure),
// loose and diffusers pipeline folders; renaming helpers.
#include "lathe/io/model_folder.h"

#include <gtest/gtest.h>

#include "io/temp_folder.h"
#include "lathe/io/json_file.h"
#include "lathe/lathe.h"

namespace lathe::io {
namespace {

using test::expect_error;
namespace fs = std::filesystem;

class ModelFolderTest : public test::TempFolderTest {
 protected:
  void config(const std::string& sub = "", const std::string& json = R"({"model_type": "llama"})") {
    write(sub + "config.json", json);
  }
  // Three shards: a holds x, y; b holds z; c (not in the index) holds stray.
  void sharded(const std::string& index_json) {
    config();
    save_safetensors(path("model-00001-of-00002.safetensors"),
                     {{"x", arange(0.0, 6.0, 1.0, float32)}, {"y", ones({2, 3}, bfloat16)}});
    save_safetensors(path("model-00002-of-00002.safetensors"), {{"z", full({4}, 5.0, int32)}});
    write("model.safetensors.index.json", index_json);
  }
  static std::string good_index() {
    return R"({"metadata": {"total_size": 40}, "weight_map": {
      "x": "model-00001-of-00002.safetensors", "y": "model-00001-of-00002.safetensors",
      "z": "model-00002-of-00002.safetensors"}})";
  }
};

TEST_F(ModelFolderTest, SingleFile) {
  config("", R"({"model_type": "llama", "hidden_size": 8})");
  write("generation_config.json", R"({"eos_token_id": [1, 2]})");
  save_safetensors(path("model.safetensors"),
                   {{"model.embed.weight", arange(0.0, 8.0, 1.0, float16)},
                    {"lm_head.weight", ones({2, 4}, float32)}});
  auto m = ModelFolder::open(dir_.string());
  EXPECT_EQ(m.config()["hidden_size"], 8);
  ASSERT_TRUE(m.generation_config());
  EXPECT_EQ((*m.generation_config())["eos_token_id"][1], 2);
  EXPECT_FALSE(m.quant().quantized());
  const auto& w = m.weights();
  EXPECT_EQ(w.names(), (std::vector<std::string>{"lm_head.weight", "model.embed.weight"}));
  const auto& info = w.info("model.embed.weight");
  EXPECT_EQ(info.dtype, StDtype::F16);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{8}));
  EXPECT_EQ(info.file, "model.safetensors");
  Array e = w.get("model.embed.weight");
  EXPECT_FALSE(e.is_available());
  EXPECT_EQ(e.to_vector<float>()[7], 7.0f);
  EXPECT_TRUE(w.contains("lm_head.weight"));
  EXPECT_FALSE(w.get_if("nope"));
  expect_error([&] { w.get("nope"); }, {"nope", dir_.string()});
  expect_error([&] { w.info("nope"); }, {"nope"});
}

TEST_F(ModelFolderTest, ShardedFollowsTheIndex) {
  sharded(good_index());
  // A shard the index does not reference is ignored, as is a consolidated copy.
  save_safetensors(path("model-00003-of-00002.safetensors"), {{"stray", ones({1}, float32)}});
  save_safetensors(path("consolidated.safetensors"), {{"x", ones({1}, float32)}});
  auto m = ModelFolder::open(dir_.string());
  const auto& w = m.weights();
  EXPECT_EQ(w.names(), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(w.info("z").file, "model-00002-of-00002.safetensors");
  EXPECT_EQ(w.info("y").dtype, StDtype::BF16);
  EXPECT_EQ(w.get("z").to_vector<int32_t>(), (std::vector<int32_t>{5, 5, 5, 5}));
  EXPECT_EQ(w.get("x").to_vector<float>()[5], 5.0f);
  EXPECT_FALSE(m.generation_config());
}

TEST_F(ModelFolderTest, SingleFileWinsOverIndexAndLooseFiles) {
  config();
  save_safetensors(path("model.safetensors"), {{"a", ones({1}, float32)}});
  write("model.safetensors.index.json", "not json");
  save_safetensors(path("consolidated.safetensors"), {{"b", ones({1}, float32)}});
  EXPECT_EQ(ModelFolder::open(dir_.string()).weights().names(), (std::vector<std::string>{"a"}));
}

TEST_F(ModelFolderTest, LooseFilesWhenNoModelFile) {
  config();
  save_safetensors(path("consolidated.00.safetensors"), {{"a", ones({1}, float32)}});
  save_safetensors(path("consolidated.01.safetensors"), {{"b", ones({1}, float32)}});
  auto m = ModelFolder::open(dir_.string());
  EXPECT_EQ(m.weights().names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.weights().info("b").file, "consolidated.01.safetensors");
  save_safetensors(path("weights.safetensors"), {{"a", ones({1}, float32)}});
  expect_error([&] { ModelFolder::open(dir_.string()); },
               {"'a'", "consolidated.00.safetensors", "weights.safetensors"});
}

TEST_F(ModelFolderTest, MissingPieces) {
  expect_error([&] { ModelFolder::open(path("absent")); }, {"absent", "not a folder"});
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"no config.json"});
  config();
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"no weights"});
  write("config.json", "{\"model_type\": ");
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"config.json", "not valid JSON"});
  write("config.json", "[1]");
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"config.json", "JSON object"});
  config();
  write("generation_config.json", "{");
  save_safetensors(path("model.safetensors"), {{"a", ones({1}, float32)}});
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"generation_config.json"});
}

TEST_F(ModelFolderTest, DamagedWeightFileIsNamed) {
  config();
  write("model.safetensors", std::string("\x08\0\0\0\0\0\0\0{}", 10));
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"model.safetensors"});
}

TEST_F(ModelFolderTest, IndexNotJson) {
  sharded("{\"weight_map\": {");
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"model.safetensors.index.json", "JSON"});
}

TEST_F(ModelFolderTest, IndexWithoutWeightMap) {
  sharded(R"({"metadata": {}})");
  expect_error([&] { ModelFolder::open(dir_.string()); },
               {"model.safetensors.index.json", "weight_map"});
  sharded(R"({"weight_map": ["x"]})");
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"weight_map"});
  sharded(R"({"weight_map": {"x": 3}})");
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"'x'", "not a file name"});
}

TEST_F(ModelFolderTest, IndexNamesMissingShard) {
  sharded(R"({"weight_map": {"x": "model-00001-of-00002.safetensors", "q": "gone.safetensors"}})");
  expect_error([&] { ModelFolder::open(dir_.string()); },
               {"model.safetensors.index.json", "'q'", "gone.safetensors", "does not exist"});
}

TEST_F(ModelFolderTest, IndexShardOutsideTheFolder) {
  sharded(good_index());
  fs::create_directories(path("sub"));
  save_safetensors(path("sub/evil.safetensors"), {{"x", ones({1}, float32)}});
  for (std::string shard :
       {"../model-00001-of-00002.safetensors", "sub/evil.safetensors", "/etc/passwd", "..", ""}) {
    nlohmann::json j = {{"weight_map", {{"x", shard}}}};
    write("model.safetensors.index.json", j.dump());
    expect_error([&] { ModelFolder::open(dir_.string()); }, {"'x'", "not a plain file name"});
  }
}

TEST_F(ModelFolderTest, IndexTensorNotInItsShard) {
  sharded(R"({"weight_map": {"x": "model-00002-of-00002.safetensors",
             "z": "model-00002-of-00002.safetensors"}})");
  expect_error([&] { ModelFolder::open(dir_.string()); },
               {"model.safetensors.index.json", "'x'", "model-00002-of-00002.safetensors",
                "does not contain"});
}

TEST_F(ModelFolderTest, TensorInTwoShards) {
  sharded(good_index());
  save_safetensors(path("model-00002-of-00002.safetensors"),
                   {{"z", full({4}, 5.0, int32)}, {"x", ones({1}, float32)}});
  expect_error([&] { ModelFolder::open(dir_.string()); },
               {"'x'", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"});
  // Also when neither shard is the one the index names for it.
  save_safetensors(path("model-00002-of-00002.safetensors"),
                   {{"z", full({4}, 5.0, int32)}, {"w", ones({1}, float32)}});
  save_safetensors(
      path("model-00001-of-00002.safetensors"),
      {{"x", ones({1}, float32)}, {"y", ones({1}, float32)}, {"w", ones({1}, float32)}});
  expect_error([&] { ModelFolder::open(dir_.string()); }, {"'w'", "both"});
}

TEST_F(ModelFolderTest, UnlistedTensorOfAReferencedShardLoads) {
  sharded(R"({"weight_map": {"x": "model-00001-of-00002.safetensors",
             "z": "model-00002-of-00002.safetensors"}})");
  auto m = ModelFolder::open(dir_.string());
  EXPECT_EQ(m.weights().names(), (std::vector<std::string>{"x", "y", "z"}));
}

TEST_F(ModelFolderTest, PrefixHelpers) {
  config();
  save_safetensors(path("model.safetensors"),
                   {{"language_model.model.norm.weight", ones({2}, float32)},
                    {"language_model.lm_head.weight", ones({2, 2}, float32)},
                    {"vision_tower.patch.weight", zeros({3}, float32)}});
  auto m = ModelFolder::open(dir_.string());
  const auto& w = m.weights();
  auto lm = w.take_prefix("language_model.");
  EXPECT_EQ(lm.names(), (std::vector<std::string>{"lm_head.weight", "model.norm.weight"}));
  EXPECT_EQ(lm.info("model.norm.weight").name, "model.norm.weight");
  EXPECT_EQ(lm.get("model.norm.weight").to_vector<float>(), (std::vector<float>{1, 1}));
  auto r = w.rename_prefix("language_model.model.", "model.");
  EXPECT_TRUE(r.contains("model.norm.weight"));
  EXPECT_TRUE(r.contains("vision_tower.patch.weight"));
  EXPECT_TRUE(r.contains("language_model.lm_head.weight"));
  expect_error([&] { w.remap([](const std::string&) { return std::string("same"); }); },
               {"'same'"});
  auto merged = lm;
  merged.merge(w.take_prefix("vision_tower."));
  EXPECT_EQ(merged.size(), 3u);
  expect_error([&] { merged.merge(lm); }, {"both"});
}

class PipelineFolderTest : public ModelFolderTest {};

TEST_F(PipelineFolderTest, OpensComponents) {
  write("model_index.json", R"({"_class_name": "FluxPipeline", "_diffusers_version": "0.30.0",
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "transformer": ["diffusers", "FluxTransformer2DModel"],
    "vae": ["diffusers", "AutoencoderKL"],
    "image_encoder": [null, null],
    "force_zeros_for_empty_prompt": true})");
  write("scheduler/scheduler_config.json", "{}");
  write("tokenizer/vocab.json", "{}");
  config("text_encoder/");
  save_safetensors(path("text_encoder/model.safetensors"), {{"emb", ones({2}, float16)}});
  config("transformer/");
  save_safetensors(path("transformer/diffusion_pytorch_model-00001-of-00002.safetensors"),
                   {{"a", ones({2}, bfloat16)}});
  save_safetensors(path("transformer/diffusion_pytorch_model-00002-of-00002.safetensors"),
                   {{"b", ones({3}, bfloat16)}});
  write("transformer/diffusion_pytorch_model.safetensors.index.json",
        R"({"weight_map": {"a": "diffusion_pytorch_model-00001-of-00002.safetensors",
                            "b": "diffusion_pytorch_model-00002-of-00002.safetensors"}})");
  config("vae/");
  save_safetensors(path("vae/diffusion_pytorch_model.safetensors"), {{"conv", ones({1}, float32)}});

  ASSERT_TRUE(PipelineFolder::is_pipeline(dir_.string()));
  auto p = PipelineFolder::open(dir_.string());
  EXPECT_EQ(p.class_name(), "FluxPipeline");
  std::vector<std::string> names;
  for (const auto& c : p.components()) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"scheduler", "text_encoder", "tokenizer",
                                             "transformer", "vae"}));
  EXPECT_EQ(p.component("transformer").class_name, "FluxTransformer2DModel");
  EXPECT_EQ(p.component("text_encoder").library, "transformers");
  EXPECT_FALSE(p.component("tokenizer").has_weights);
  EXPECT_TRUE(p.component("vae").has_weights);
  auto t = p.open_component("transformer");
  EXPECT_EQ(t.weights().info("b").file,
            "transformer/diffusion_pytorch_model-00002-of-00002.safetensors");
  EXPECT_EQ(t.weights().get("b").to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(p.open_component("text_encoder").weights().info("emb").file,
            "text_encoder/model.safetensors");
  expect_error([&] { p.open_component("tokenizer"); }, {"tokenizer", "no weights"});
  expect_error([&] { p.component("unet"); }, {"unet", "transformer"});
}

TEST_F(PipelineFolderTest, BadModelIndex) {
  write("model_index.json", R"({"vae": ["diffusers", "AutoencoderKL"]})");
  expect_error([&] { PipelineFolder::open(dir_.string()); },
               {"model_index.json", "'vae'", "no folder"});
  write("model_index.json", R"({"vae": ["diffusers"]})");
  expect_error([&] { PipelineFolder::open(dir_.string()); }, {"'vae'", "[library, class name]"});
  write("model_index.json", R"({"..": ["diffusers", "X"]})");
  expect_error([&] { PipelineFolder::open(dir_.string()); }, {"not a plain folder name"});
  write("model_index.json", "[");
  expect_error([&] { PipelineFolder::open(dir_.string()); }, {"model_index.json"});
}

}  // namespace
}  // namespace lathe::io
