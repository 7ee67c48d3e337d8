// quantize_folder / `lathe quantize`: MLX-community names, dtypes and shapes,
// copied files and config, and quantize -> load -> dequantize checked against
// a float64 decoding of the packing documented in lathe/ops/quantized.h.
#include <gtest/gtest.h>

#include <cmath>

#include "io/temp_folder.h"
#include "lathe/io/json_file.h"
#include "lathe/io/model_folder.h"
#include "lathe/io/quantize_folder.h"
#include "lathe/lathe.h"
#include "support/harness.h"

namespace lathe::io {
namespace {

using test::expect_error;
namespace fs = std::filesystem;

class Quantize : public test::TempFolderTest {
 protected:
  void make_source() {
    write("src/config.json", R"({"model_type": "llama", "hidden_size": 64})");
    write("src/tokenizer.json", R"({"model": {"type": "BPE"}})");
    write("src/tokenizer_config.json", R"({"eos_token": "</s>"})");
    write("src/generation_config.json", R"({"eos_token_id": 2})");
    write("src/pytorch_model.bin", "not copied");
    weights_ = {
        {"model.embed_tokens.weight",
         array(testing::random_host({16, 64}, float32, 1).data, {16, 64}, float32)},
        {"model.layers.0.self_attn.q_proj.weight",
         array(testing::random_host({32, 128}, float32, 2, -0.5, 0.5).data, {32, 128}, bfloat16)},
        {"model.layers.0.self_attn.q_proj.bias", full({32}, 0.25, bfloat16)},
        {"model.norm.weight", ones({64}, float32)},
        {"model.odd.weight", ones({8, 48}, float32)},
        {"conv.weight", ones({4, 3, 3, 2}, float16)},
    };
    save_safetensors(new_file("src/model.safetensors"), weights_);
  }

  // Element j of a row is the bit field [j*bits, (j+1)*bits) of the row's
  // little-endian bytes; its value is scale * q + bias of its group.
  static std::vector<double> decode(const std::vector<uint32_t>& words,
                                    const std::vector<double>& scales,
                                    const std::vector<double>& biases, int64_t rows, int64_t k,
                                    int bits, int group) {
    std::vector<double> out(rows * k);
    int64_t words_per_row = k * bits / 32;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < k; ++j) {
        uint64_t q = 0;
        for (int b = 0; b < bits; ++b) {
          int64_t bit = j * bits + b;
          uint32_t w = words[r * words_per_row + bit / 32];
          q |= uint64_t((w >> (bit % 32)) & 1u) << b;
        }
        int64_t g = r * (k / group) + j / group;
        out[r * k + j] = scales[g] * double(q) + biases[g];
      }
    }
    return out;
  }

  // Checks the module against its source weight: lathe's dequantize equals the
  // float64 decoding, which is within the format's bound of the original.
  void check_module(const ModelFolder& m, const std::string& module, int bits, int group,
                    double dtype_eps) {
    SCOPED_TRACE(module);
    auto lw = m.linear(module);
    ASSERT_TRUE(lw.quantized());
    EXPECT_EQ(*lw.quant, (QuantSpec{group, bits, "affine"}));
    Array orig = weights_.at(module + ".weight");
    int64_t rows = orig.shape(0), k = orig.shape(1);
    EXPECT_EQ(lw.weight.dtype(), uint32);
    EXPECT_EQ(lw.weight.shape(), (Shape{rows, k * bits / 32}));
    EXPECT_EQ(lw.scales->dtype(), orig.dtype());
    EXPECT_EQ(lw.scales->shape(), (Shape{rows, k / group}));
    EXPECT_EQ(lw.biases->shape(), (Shape{rows, k / group}));
    auto scales = lw.scales->to_vector<double>();
    auto biases = lw.biases->to_vector<double>();
    auto ref = decode(lw.weight.to_vector<uint32_t>(), scales, biases, rows, k, bits, group);
    auto deq = dequantize(lw.weight, *lw.scales, lw.biases, group, bits).to_vector<double>();
    auto w = orig.to_vector<double>();
    double n = (1 << bits) - 1;
    for (int64_t g = 0; g < rows * (k / group); ++g) {
      double s = scales[g], b = biases[g];
      double slack = dtype_eps * (std::abs(b) + n * std::abs(s)) + 1e-7;
      // Codes are clamped to [0, n]: an element outside the covered range
      // [b, b + n s] lands on its end; inside it is within half a step.
      double lo = std::min(b, b + n * s), hi = std::max(b, b + n * s);
      for (int64_t e = 0; e < group; ++e) {
        int64_t i = (g / (k / group)) * k + (g % (k / group)) * group + e;
        EXPECT_NEAR(deq[i], ref[i], dtype_eps * (std::abs(ref[i]) + 1e-6) + 1e-6) << i;
        double outside = w[i] < lo ? lo - w[i] : (w[i] > hi ? w[i] - hi : 0.0);
        EXPECT_LE(outside, std::abs(s) + slack) << "the range must cover the group, element " << i;
        EXPECT_LE(std::abs(w[i] - ref[i]), std::max(outside, std::abs(s) / 2) + slack)
            << "element " << i;
      }
    }
  }

  std::map<std::string, Array> weights_;
};

TEST_F(Quantize, FourBitShardedFolder) {
  make_source();
  QuantizeOptions o;
  o.bits = 4;
  o.group_size = 32;
  o.max_shard_bytes = 4096;  // forces several shards
  EXPECT_EQ(quantize_folder(path("src"), path("dst"), o), 2u);

  auto cfg = read_json_file(path("dst/config.json"), "test");
  nlohmann::json q = {{"group_size", 32}, {"bits", 4}};
  EXPECT_EQ(cfg["quantization"], q);
  EXPECT_EQ(cfg["quantization_config"], q);
  EXPECT_EQ(cfg["hidden_size"], 64);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    EXPECT_EQ(read(std::string("dst/") + f), read(std::string("src/") + f)) << f;
  EXPECT_FALSE(fs::exists(path("dst/pytorch_model.bin")));
  auto index = read_json_file(path("dst/model.safetensors.index.json"), "test");
  EXPECT_GT(index["metadata"]["total_size"].get<uint64_t>(), 0u);
  EXPECT_EQ(index["weight_map"]["model.norm.weight"].get<std::string>().rfind("model-0000", 0), 0u);

  auto m = ModelFolder::open(path("dst"));
  const auto& w = m.weights();
  EXPECT_EQ(
      w.names(),
      (std::vector<std::string>{
          "conv.weight", "model.embed_tokens.biases", "model.embed_tokens.scales",
          "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.bias",
          "model.layers.0.self_attn.q_proj.biases", "model.layers.0.self_attn.q_proj.scales",
          "model.layers.0.self_attn.q_proj.weight", "model.norm.weight", "model.odd.weight"}));
  // Unquantized tensors are copied exactly, in their dtype.
  for (const char* name : {"conv.weight", "model.norm.weight", "model.odd.weight",
                           "model.layers.0.self_attn.q_proj.bias"}) {
    EXPECT_EQ(w.get(name).dtype(), weights_.at(name).dtype()) << name;
    EXPECT_EQ(w.get(name).to_vector<double>(), weights_.at(name).to_vector<double>()) << name;
  }
  EXPECT_FALSE(m.linear("model.odd").quantized());
  check_module(m, "model.embed_tokens", 4, 32, 1e-6);
  check_module(m, "model.layers.0.self_attn.q_proj", 4, 32, 1.0 / 128);
  EXPECT_TRUE(m.linear("model.layers.0.self_attn.q_proj").bias);
}

TEST_F(Quantize, EightBitSingleFile) {
  make_source();
  QuantizeOptions o;
  o.bits = 8;
  o.group_size = 64;
  EXPECT_EQ(quantize_folder(path("src"), path("dst"), o), 2u);
  EXPECT_TRUE(fs::exists(path("dst/model.safetensors")));
  EXPECT_TRUE(fs::exists(path("dst/model.safetensors.index.json")));
  auto m = ModelFolder::open(path("dst"));
  EXPECT_EQ(*m.quant().default_spec(), (QuantSpec{64, 8, "affine"}));
  check_module(m, "model.embed_tokens", 8, 64, 1e-6);
  check_module(m, "model.layers.0.self_attn.q_proj", 8, 64, 1.0 / 128);
  // The destination is never overwritten, and a quantized source is refused.
  expect_error([&] { quantize_folder(path("src"), path("dst"), o); }, {"not an empty folder"});
  expect_error([&] { quantize_folder(path("dst"), path("dst2"), o); }, {"already quantized"});
}

TEST_F(Quantize, Refusals) {
  make_source();
  QuantizeOptions o;
  o.bits = 7;
  expect_error([&] { quantize_folder(path("src"), path("d1"), o); }, {"--bits", "7"});
  o.bits = 4;
  o.group_size = 16;
  expect_error([&] { quantize_folder(path("src"), path("d1"), o); }, {"--group-size", "16"});
  o.group_size = 64;
  write("full/x", "1");
  expect_error([&] { quantize_folder(path("src"), path("full"), o); }, {"not an empty folder"});
  expect_error([&] { quantize_folder(path("absent"), path("d2"), o); }, {"absent"});
  write("pipe/model_index.json", "{}");
  expect_error([&] { quantize_folder(path("pipe"), path("d3"), o); }, {"pipeline"});
}

TEST(QuantizeRule, WhichTensorsAreQuantized) {
  auto t = [](std::string name, StDtype d, std::vector<int64_t> s) {
    return TensorInfo{name, d, s, "f"};
  };
  EXPECT_TRUE(is_quantizable(t("a.weight", StDtype::BF16, {8, 64}), 64));
  EXPECT_FALSE(is_quantizable(t("a.weight", StDtype::BF16, {8, 96}), 64));
  EXPECT_TRUE(is_quantizable(t("a.weight", StDtype::BF16, {8, 96}), 32));
  EXPECT_FALSE(is_quantizable(t("a.bias", StDtype::F32, {8, 64}), 64));
  EXPECT_FALSE(is_quantizable(t("norm.weight", StDtype::F32, {64}), 64));
  EXPECT_FALSE(is_quantizable(t("conv.weight", StDtype::F32, {8, 3, 3, 64}), 64));
  EXPECT_FALSE(is_quantizable(t("ids.weight", StDtype::I32, {8, 64}), 64));
  EXPECT_FALSE(is_quantizable(t("a.weight", StDtype::F32, {0, 64}), 64));
}

}  // namespace
}  // namespace lathe::io
