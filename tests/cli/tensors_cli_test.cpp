// The `lathe tensors` and `lathe quantize` commands, run as the built binary:
// listings of good folders, a quantized copy that loads back, and a clean
// non-zero exit on damaged input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "io/temp_folder.h"
#include "lathe/io/model_folder.h"
#include "lathe/io/safetensors.h"
#include "lathe/lathe.h"

namespace lathe::io {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int status;  // exit code, or 128 + signal
  std::string out, err;
};

class Cli : public test::TempFolderTest {
 protected:
  CliRun lathe(const std::string& args) {
    std::string err_file = path("stderr.txt");
    std::string cmd = std::string(LATHE_BINARY_DIR) + "/lathe " + args + " 2>" + err_file;
    FILE* p = ::popen(cmd.c_str(), "r");
    CliRun r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.err = read("stderr.txt");
    return r;
  }
  void expect_clean_failure(const std::string& args, const std::string& needle) {
    CliRun r = lathe(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
};

TEST_F(Cli, TensorsSingleAndSharded) {
  write("m/config.json", "{}");
  save_safetensors(new_file("m/model.safetensors"),
                   {{"b.weight", zeros({2, 3}, bfloat16)}, {"a.bias", zeros({4}, float32)}});
  CliRun r = lathe("tensors " + path("m"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "a.bias\tF32\t[4]\tmodel.safetensors\n"
            "b.weight\tBF16\t[2, 3]\tmodel.safetensors\n");

  save_safetensors(new_file("s/model-00001-of-00002.safetensors"), {{"z", zeros({1}, int32)}});
  save_safetensors(new_file("s/model-00002-of-00002.safetensors"), {{"y", zeros({}, uint8)}});
  write("s/model.safetensors.index.json",
        R"({"weight_map": {"z": "model-00001-of-00002.safetensors",
                           "y": "model-00002-of-00002.safetensors"}})");
  r = lathe("tensors " + path("s"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "y\tU8\t[]\tmodel-00002-of-00002.safetensors\n"
            "z\tI32\t[1]\tmodel-00001-of-00002.safetensors\n");
  r = lathe("tensors " + path("s/model-00001-of-00002.safetensors"));
  EXPECT_EQ(r.out, "z\tI32\t[1]\tmodel-00001-of-00002.safetensors\n");
}

TEST_F(Cli, TensorsPipeline) {
  write("p/model_index.json", R"({"_class_name": "P", "vae": ["diffusers", "AutoencoderKL"],
    "tokenizer": ["transformers", "T5TokenizerFast"], "transformer": ["diffusers", "X"]})");
  write("p/tokenizer/tokenizer.json", "{}");
  save_safetensors(new_file("p/vae/diffusion_pytorch_model.safetensors"),
                   {{"conv.weight", zeros({1, 2}, float16)}});
  save_safetensors(new_file("p/transformer/diffusion_pytorch_model.safetensors"),
                   {{"proj", zeros({3}, float32)}});
  CliRun r = lathe("tensors " + path("p"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "transformer/proj\tF32\t[3]\ttransformer/diffusion_pytorch_model.safetensors\n"
            "vae/conv.weight\tF16\t[1, 2]\tvae/diffusion_pytorch_model.safetensors\n");
}

TEST_F(Cli, TensorsDamaged) {
  expect_clean_failure("tensors " + path("absent"), "absent");
  fs::create_directories(path("empty"));
  expect_clean_failure("tensors " + path("empty"), "no weights");
  // Truncated file, header past the end, garbage header, bad index, missing shard.
  save_safetensors(new_file("t/model.safetensors"), {{"w", ones({64}, float32)}});
  std::string full = read("t/model.safetensors");
  write("t/model.safetensors", full.substr(0, full.size() - 10));
  expect_clean_failure("tensors " + path("t"), "model.safetensors");
  write("t/model.safetensors", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10));
  expect_clean_failure("tensors " + path("t"), "model.safetensors");
  write("t/model.safetensors", std::string("\x04\0\0\0\0\0\0\0{\"a\"", 12));
  expect_clean_failure("tensors " + path("t"), "model.safetensors");
  write("i/model.safetensors.index.json", "{\"weight_map\": {\"w\": \"missing.safetensors\"}}");
  expect_clean_failure("tensors " + path("i"), "missing.safetensors");
  write("i/model.safetensors.index.json", "{\"weight_map\": ");
  expect_clean_failure("tensors " + path("i"), "model.safetensors.index.json");
  write("p/model_index.json", R"({"vae": ["diffusers", "AutoencoderKL"]})");
  expect_clean_failure("tensors " + path("p"), "vae");
  CliRun usage = lathe("tensors");
  EXPECT_EQ(usage.status, 2);
}

TEST_F(Cli, QuantizeWritesAnMlxFolder) {
  write("src/config.json", R"({"model_type": "llama"})");
  write("src/tokenizer.json", "{}");
  Array w = reshape(arange(-1.0, 1.0, 1.0 / 256, float32), {4, 128});
  save_safetensors(new_file("src/model.safetensors"),
                   {{"l.weight", w}, {"n.weight", ones({128}, float32)}});
  CliRun r = lathe("quantize " + path("src") + " " + path("dst") + " --bits 8 --group-size=64");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read("dst/tokenizer.json"), "{}");
  auto m = ModelFolder::open(path("dst"));
  EXPECT_EQ(*m.quant().default_spec(), (QuantSpec{64, 8, "affine"}));
  auto l = m.linear("l");
  ASSERT_TRUE(l.quantized());
  EXPECT_EQ(l.weight.shape(), (Shape{4, 32}));
  // A linear ramp is reproduced within one 8-bit step of its group's range.
  auto got = dequantize(l.weight, *l.scales, l.biases, 64, 8).to_vector<double>();
  auto want = w.to_vector<double>();
  double step = (63.0 / 256) / 255;
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], step) << i;
  EXPECT_FALSE(m.linear("n").quantized());

  expect_clean_failure("quantize " + path("src") + " " + path("dst"), "not an empty folder");
  expect_clean_failure("quantize " + path("src") + " " + path("d2") + " --bits 7", "--bits");
  expect_clean_failure("quantize " + path("src") + " " + path("d2") + " --bits", "needs a value");
  expect_clean_failure("quantize " + path("src") + " " + path("d2") + " --wat", "unknown option");
  expect_clean_failure("quantize " + path("absent") + " " + path("d2"), "absent");
  EXPECT_EQ(lathe("quantize " + path("src")).status, 2);
}

}  // namespace
}  // namespace lathe::io
