// A tiny Llama whose linears and embeddings are MLX-affine quantized (as
// mlx-community checkpoints): lathe's logits against a float64 forward of the
// weights the codes stand for, unpacked by hand from the stored bits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lathe/io/safetensors.h"
#include "lathe/models/model.h"
#include "tiny_models.h"

namespace lathe::testing {
namespace {

constexpr int kGroup = 32;
constexpr int kBits = 4;

// The float64 matrix MLX affine 4-bit codes stand for: code j of a row sits in
// bits [4 (j % 8), 4 (j % 8) + 4) of word j / 8; w = scale * code + bias per group.
Host unpack(Array wq, Array scales, Array biases) {
  const int64_t rows = scales.shape(0), cols = scales.shape(1) * kGroup;
  auto words = wq.to_vector<uint32_t>();
  auto s = scales.to_vector<double>();
  auto b = biases.to_vector<double>();
  Host w{{rows, cols}, std::vector<double>(rows * cols)};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      const uint32_t code = (words[r * (cols / 8) + j / 8] >> (4 * (j % 8))) & 15u;
      const int64_t g = r * (cols / kGroup) + j / kGroup;
      w[r * cols + j] = s[g] * code + b[g];
    }
  return w;
}

void check_quantized(TinySpec s, const std::string& name) {
  eval();
  std::map<std::string, Host> dense = tiny_weights(s, 21);
  std::map<std::string, Array> stored;
  std::map<std::string, Host> reference;
  for (const auto& [k, h] : dense) {
    const std::string suffix = ".weight";
    if (h.shape.size() == 2 && h.shape[1] % kGroup == 0) {
      QuantizedWeight q = quantize(make_array(h, float32), kGroup, kBits);
      const std::string module = k.substr(0, k.size() - suffix.size());
      keep(q.wq, q.scales, q.biases);
      stored.emplace(k, q.wq);
      stored.emplace(module + ".scales", q.scales);
      stored.emplace(module + ".biases", q.biases);
      reference[k] = unpack(q.wq, q.scales, q.biases);
    } else {
      stored.emplace(k, make_array(h, float32));
      reference[k] = h;
    }
  }
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("lathe_models_test_" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  auto cfg = tiny_config(s);
  cfg["quantization"] = {{"group_size", kGroup}, {"bits", kBits}};
  std::ofstream(dir / "config.json") << cfg.dump();
  io::save_safetensors((dir / "model.safetensors").string(), stored);

  auto model = load_model(dir.string());
  keep(model->weights());
  const std::vector<int> ids = {4, 8, 15, 16, 23, 36, 0, 1};
  KVCaches caches = model->make_caches(1, 16);
  Host got = to_host(model->forward(
      array(std::vector<int32_t>(ids.begin(), ids.end()), {1, static_cast<int64_t>(ids.size())}),
      caches));
  EXPECT_LE(max_rel_error(got, reference_logits(s, reference, ids)), 1e-4) << name;
}

TEST(QuantizedModel, UntiedLogitsMatchTheDequantizedReference) {
  TinySpec s;
  s.intermediate = 64;
  check_quantized(s, "quantized_untied");
}

TEST(QuantizedModel, TiedHeadUsesTheQuantizedEmbeddings) {
  TinySpec s;
  s.intermediate = 64;
  s.tie = true;
  check_quantized(s, "quantized_tied");
}

}  // namespace
}  // namespace lathe::testing
