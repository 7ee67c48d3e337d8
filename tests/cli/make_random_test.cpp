// `lathe make-random`, run as the built binary on the configs of the transformers fixtures:
// it writes exactly the tensor names and shapes transformers saved for them (the fixtures'
// own model.safetensors are the reference), the folder loads and runs forward, values are
// seeded and scaled as asked, and bad input fails cleanly.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "io/temp_folder.h"
#include "lathe/io/safetensors.h"
#include "lathe/lathe.h"
#include "lathe/models/model.h"

namespace lathe::io {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return std::string(LATHE_SOURCE_DIR) + "/tests/data/models/" + name;
}

// name -> (dtype, shape) of one safetensors file.
std::map<std::string, std::pair<std::string, std::vector<int64_t>>> listing(
    const std::string& path) {
  std::map<std::string, std::pair<std::string, std::vector<int64_t>>> out;
  auto file = SafetensorsFile::open(path);
  for (const StTensor& t : file->header().tensors) {
    out[t.name] = {st_name(t.dtype), t.shape};
  }
  return out;
}

class MakeRandom : public test::TempFolderTest {
 protected:
  int lathe(const std::string& args, std::string* err = nullptr) {
    std::string err_file = path("stderr.txt");
    std::string cmd = std::string(LATHE_BINARY_DIR) + "/lathe " + args + " 2>" + err_file;
    int st = std::system(cmd.c_str());
    if (err) *err = read("stderr.txt");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
};

TEST_F(MakeRandom, NamesAndShapesMatchTransformersCheckpoints) {
  for (const char* name : {"llama-tiny", "llama-tied", "qwen2-tiny", "qwen3-tiny",
                           "gemma3-text-tiny", "gemma3-mm-tiny", "llama3-legacy-config"}) {
    SCOPED_TRACE(name);
    const std::string out = path(name);
    std::string err;
    ASSERT_EQ(lathe("make-random " + fixture(name) + "/config.json " + out + " --dtype f32", &err),
              0)
        << err;
    auto want = listing(fixture(name) + "/model.safetensors");
    // Multimodal folders: only the language model is written.
    for (auto it = want.begin(); it != want.end();) {
      bool vision = it->first.rfind("vision_tower.", 0) == 0 ||
                    it->first.rfind("multi_modal_projector.", 0) == 0;
      it = vision ? want.erase(it) : std::next(it);
    }
    EXPECT_EQ(listing(out + "/model.safetensors"), want);

    auto model = load_model(out);
    keep(model->weights());
    KVCaches caches = model->make_caches(1, 8);
    Array logits = model->forward(array(std::vector<int32_t>{3, 5, 7}, {1, 3}), caches);
    eval(logits);
    EXPECT_EQ(logits.shape(), (Shape{1, 3, model->vocab_size()}));
    for (float v : logits.to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
  }
}

TEST_F(MakeRandom, Bfloat16SeededValues) {
  const std::string config = fixture("llama-tiny") + "/config.json";
  ASSERT_EQ(lathe("make-random " + config + " " + path("a") + " --seed 7 --std 0.05"), 0);
  ASSERT_EQ(lathe("make-random " + config + " " + path("b") + " --seed 7 --std 0.05"), 0);
  ASSERT_EQ(lathe("make-random " + config + " " + path("c") + " --seed 8 --std 0.05"), 0);
  EXPECT_EQ(read("a/model.safetensors"), read("b/model.safetensors"));
  EXPECT_NE(read("a/model.safetensors"), read("c/model.safetensors"));

  auto tensors = load_safetensors(path("a/model.safetensors"));
  for (auto& [name, a] : tensors) EXPECT_EQ(a.dtype(), bfloat16) << name;
  // A matrix: zero mean, the requested standard deviation; a norm: ones.
  auto w = astype(tensors.at("model.layers.0.mlp.up_proj.weight"), float32).to_vector<float>();
  double sum = 0, sq = 0;
  for (float v : w) {
    sum += v;
    sq += double(v) * v;
    ASSERT_LE(std::fabs(v), 0.05 * std::sqrt(3.0) * 1.01);
  }
  const double n = static_cast<double>(w.size());
  EXPECT_NEAR(sum / n, 0.0, 0.005);
  EXPECT_NEAR(std::sqrt(sq / n), 0.05, 0.005);
  for (float v : astype(tensors.at("model.norm.weight"), float32).to_vector<float>()) {
    EXPECT_EQ(v, 1.0f);
  }
  nlohmann::json cfg = nlohmann::json::parse(read("a/config.json"));
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
}

TEST_F(MakeRandom, BadInputFailsCleanly) {
  std::string err;
  write("mamba/config.json", R"({"model_type": "mamba", "hidden_size": 8})");
  EXPECT_EQ(lathe("make-random " + path("mamba/config.json") + " " + path("o"), &err), 1);
  EXPECT_NE(err.find("[make_random]"), std::string::npos) << err;
  EXPECT_NE(err.find("unsupported model_type 'mamba'"), std::string::npos) << err;

  write("bad/config.json", R"({"model_type": "llama", "hidden_size": 8})");
  EXPECT_EQ(lathe("make-random " + path("bad/config.json") + " " + path("o2"), &err), 1);
  EXPECT_NE(err.find("[make_random] " + path("o2/config.json") + ": field 'vocab_size' is missing"),
            std::string::npos)
      << err;

  EXPECT_EQ(
      lathe("make-random " + fixture("llama-tiny") + "/config.json " + path("o3") + " --dtype int8",
            &err),
      1);
  EXPECT_NE(err.find("--dtype must be bf16, f16 or f32, got 'int8'"), std::string::npos) << err;
  EXPECT_EQ(lathe("make-random " + path("missing.json") + " " + path("o4"), &err), 1);
  EXPECT_NE(err.find("missing.json"), std::string::npos) << err;
  EXPECT_EQ(lathe("make-random onlyone", &err), 2);
}

}  // namespace
}  // namespace lathe::io
