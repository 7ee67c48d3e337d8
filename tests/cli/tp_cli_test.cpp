// `lathe run --tp N` and `lathe logits --tp N` with simulated ranks: transformers'
// greedy ids and logits on the fixtures, and rank counts that cannot work refused with a
// message and exit code 1.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lathe/io/npy.h"
#include "lathe/io/safetensors.h"
#include "lathe/lathe.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result lathe_cli(const std::vector<std::string>& args) {
  fs::path dir = fs::temp_directory_path() / ("lathe_tp_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string cmd = "'" + std::string(LATHE_BINARY_DIR) + "/lathe'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " > '" + (dir / "out").string() + "' 2> '" + (dir / "err").string() + "' < /dev/null";
  int status = std::system(cmd.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  fs::remove_all(dir);
  return r;
}

std::string fixture(const std::string& name) {
  return std::string(LATHE_SOURCE_DIR) + "/tests/data/models/" + name;
}

std::string joined(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

TEST(TensorParallelCli, GreedyRunMatchesTransformers) {
  for (const char* name : {"llama-tiny", "qwen3-tiny", "gemma3-text-tiny"}) {
    auto ref = io::load_safetensors(fixture(name) + "/reference.safetensors");
    auto prompt = astype(ref.at("input_ids"), int64).to_vector<int64_t>();
    auto want = astype(ref.at("greedy_ids"), int64).to_vector<int64_t>();
    auto margin = ref.at("greedy_margin").to_vector<float>();
    for (const char* tp : {"2", "4"}) {
      Result r = lathe_cli({"run", fixture(name), "--prompt-ids", joined(prompt), "--max-tokens",
                            std::to_string(want.size()), "--temperature", "0", "--ignore-eos",
                            "--json", "--no-stats", "--prefill-chunk", "7", "--tp", tp});
      ASSERT_EQ(r.exit_code, 0) << name << " --tp " << tp << ": " << r.err;
      std::string out = r.out;
      while (!out.empty() && out.back() == '\n') out.pop_back();
      auto j = nlohmann::json::parse(out.substr(out.rfind('\n') + 1));
      auto got = j.at("ids").get<std::vector<int64_t>>();
      ASSERT_EQ(got.size(), want.size()) << name;
      for (size_t i = 0; i < want.size() && margin[i] > 1e-3f; ++i)
        EXPECT_EQ(got[i], want[i]) << name << " --tp " << tp << " step " << i;
    }
  }
}

TEST(TensorParallelCli, LogitsMatchTransformers) {
  const std::string dir = fixture("llama-tied");  // tied head: the vocabulary-split table
  auto ref = io::load_safetensors(dir + "/reference.safetensors");
  auto ids = astype(ref.at("input_ids"), int64).to_vector<int64_t>();
  auto want = ref.at("logits").to_vector<float>();
  fs::path out =
      fs::temp_directory_path() / ("lathe_tp_logits_" + std::to_string(::getpid()) + ".npy");
  Result r = lathe_cli({"logits", dir, "--ids", joined(ids), "--out", out.string(), "--tp", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto got = io::load_npy(out.string()).to_vector<float>();
  fs::remove(out);
  ASSERT_EQ(got.size(), want.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * double(got[i] - want[i]);
    den += want[i] * double(want[i]);
  }
  EXPECT_LE(std::sqrt(num / den), 1e-4);
}

TEST(TensorParallelCli, RefusesRankCountsThatCannotWork) {
  const std::string dir = fixture("llama-tiny");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"logits", dir, "--ids", "1,2", "--tp", "0"}, "--tp must be a whole number of ranks"},
      {{"logits", dir, "--ids", "1,2", "--tp", "two"}, "--tp must be a whole number of ranks"},
      {{"run", dir, "--prompt-ids", "1,2", "--tp", "-2"}, "--tp must be a whole number of ranks"},
      {{"run", dir, "--prompt-ids", "1,2", "--tp", "3"},
       "num_attention_heads 4 is not divisible by the 3 ranks"},
      {{"logits", dir, "--ids", "1,2", "--tp", "8"},
       "num_attention_heads 4 is not divisible by the 8 ranks"},
  };
  for (const auto& c : cases) {
    Result r = lathe_cli(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace lathe
