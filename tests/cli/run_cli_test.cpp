// The built `lathe` binary: `run` and `logits` refuse impossible flags with a message and a
// non-zero exit (never a crash), and, on the transformers fixtures, greedy `run` gives
// transformers' greedy ids and `logits --out` its logits.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lathe/io/npy.h"
#include "lathe/io/safetensors.h"
#include "lathe/lathe.h"
#include "lathe/models/model.h"
#include "lathe/text/tokenizer.h"
#include "support/harness.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  bool exited = false;  // false: killed by a signal (a crash)
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result lathe_cli(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  fs::path dir = fs::temp_directory_path() / ("lathe_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "in") << stdin_text;
  std::string cmd = quote(std::string(LATHE_BINARY_DIR) + "/lathe");
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " < " + quote((dir / "in").string()) + " > " + quote((dir / "out").string()) + " 2> " +
         quote((dir / "err").string());
  int status = std::system(cmd.c_str());
  Result r;
  r.exited = WIFEXITED(status) && WEXITSTATUS(status) < 128;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  fs::remove_all(dir);
  return r;
}

std::string models_dir() { return std::string(LATHE_SOURCE_DIR) + "/tests/data/models"; }

void expect_refused(const std::vector<std::string>& args, const std::string& message) {
  std::string shown;
  for (const auto& a : args) shown += a + " ";
  Result r = lathe_cli(args);
  EXPECT_TRUE(r.exited) << shown << "crashed: " << r.err;
  EXPECT_EQ(r.exit_code, 1) << shown << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos)
      << "`lathe " << shown << "` said: " << r.err << " (expected '" << message << "')";
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
}

TEST(RunCli, RefusesImpossibleFlags) {
  std::string dir = models_dir() + "/llama-tiny";
  expect_refused({"run"}, "missing the model folder");
  expect_refused({"run", "/no/such/folder", "-p", "hi"}, "'/no/such/folder' does not exist");
  expect_refused({"run", dir, "-p", "hi", "--top-p", "2"}, "top_p must be in (0, 1]");
  expect_refused({"run", dir, "-p", "hi", "--top-p", "0"}, "top_p");
  expect_refused({"run", dir, "-p", "hi", "--temperature", "-1"}, "temperature");
  expect_refused({"run", dir, "-p", "hi", "--temperature", "nan"}, "--temperature");
  expect_refused({"run", dir, "-p", "hi", "--max-tokens", "-3"}, "--max-tokens must be in");
  expect_refused({"run", dir, "-p", "hi", "--max-tokens", "12abc"}, "needs an integer");
  expect_refused({"run", dir, "-p", "hi", "--max-tokens"}, "--max-tokens needs a value");
  expect_refused({"run", dir, "-p", "hi", "--top-k", "-1"}, "--top-k");
  expect_refused({"run", dir, "-p", "hi", "--min-p", "1.5"}, "min_p");
  expect_refused({"run", dir, "-p", "hi", "--repeat-penalty", "0"}, "repetition_penalty");
  expect_refused({"run", dir, "-p", "hi", "--seed", "-2"}, "--seed");
  expect_refused({"run", dir, "-p", "hi", "--prefill-chunk", "0"}, "--prefill-chunk");
  expect_refused({"run", dir, "-p", "hi", "--ctx", "0"}, "--ctx");
  expect_refused({"run", dir, "-p", "hi", "--stop", ""}, "stop string is empty");
  expect_refused({"run", dir, "-p", "hi", "--device", "tpu"}, "unknown device 'tpu'");
  expect_refused({"run", dir, "-p", "hi", "--dtype", "f8"}, "unknown dtype 'f8'");
  expect_refused({"run", dir, "-p", "hi", "--bogus"}, "unknown option '--bogus'");
  expect_refused({"run", dir, "-p", "hi", "--chat", "--raw"}, "--chat and --raw");
  expect_refused({"run", dir, "-p", "hi", "--raw", "--system", "be brief"}, "--system");
  expect_refused({"run", dir, "--prompt-ids", "1,x,3"}, "bad token id 'x'");
  expect_refused({"run", dir, "--prompt-ids", "1", "-p", "hi"}, "exclude each other");
  expect_refused({"run", dir, "dir2", "-p", "hi"}, "unexpected argument 'dir2'");
  // A folder without a tokenizer needs ids; a folder without config.json is no model.
  expect_refused({"run", dir, "-p", "hi"}, "has no tokenizer");
  expect_refused({"run", dir, "--prompt-ids", "1", "--stop", "x"}, "--stop needs a tokenizer");
  fs::path empty = fs::temp_directory_path() / ("lathe_cli_empty_" + std::to_string(::getpid()));
  fs::create_directories(empty);
  expect_refused({"run", empty.string(), "--prompt-ids", "1"}, "config.json");
  fs::remove_all(empty);
  expect_refused({"run", models_dir() + "/README.md", "--prompt-ids", "1"}, "is not a folder");
}

TEST(RunCli, ServeRefusesImpossibleFlags) {
  const std::string models = std::string(LATHE_SOURCE_DIR) + "/tests/data/server/models";
  expect_refused({"serve"}, "--models DIR is required");
  expect_refused({"serve", "--models", "/no/such/folder"}, "is not a folder");
  expect_refused({"serve", "--models", models, "--keep-alive", "soon"}, "--keep-alive");
  expect_refused({"serve", "--models", models, "--parallel", "0"}, "--parallel");
  expect_refused({"serve", "--models", models, "--max-loaded", "0"}, "--max-loaded");
  expect_refused({"serve", "--models", models, "--port", "70000"}, "--port");
  expect_refused({"serve", "--models", models, "--device", "tpu"}, "unknown device 'tpu'");
  expect_refused({"serve", "--models", models, "extra"}, "unexpected argument 'extra'");
  expect_refused({"serve", "--models", models, "--host", "256.1.1.1", "--port", "0"},
                 "cannot listen");
}

TEST(RunCli, CudaIsAClearErrorWithoutIt) {
  if (cuda_available()) GTEST_SKIP() << "this build has CUDA";
  expect_refused({"run", models_dir() + "/llama-tiny", "--prompt-ids", "1", "--device", "cuda"},
                 "built without CUDA");
  expect_refused({"logits", models_dir() + "/llama-tiny", "--ids", "1", "--device", "cuda"},
                 "built without CUDA");
}

TEST(RunCli, LogitsRefusesImpossibleFlags) {
  std::string dir = models_dir() + "/llama-tiny";
  expect_refused({"logits", dir}, "exactly one of --ids and --text");
  expect_refused({"logits", dir, "--ids", "1", "--text", "a"}, "exactly one of --ids and --text");
  expect_refused({"logits", dir, "--ids", "1,,2"}, "bad token id ''");
  expect_refused({"logits", dir, "--ids", "1", "--top", "0"}, "--top must be in");
  expect_refused({"logits", dir, "--ids", "1", "--top", "3", "--out", "x.npy"}, "give one");
  expect_refused({"logits", "/no/such/folder", "--ids", "1"}, "does not exist");
  expect_refused({"logits", dir, "--text", "hello"}, "has no tokenizer");
}

TEST(RunCli, HelpExitsZero) {
  for (const char* cmd : {"run", "logits"}) {
    Result r = lathe_cli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: lathe"), std::string::npos) << r.out;
  }
}

// The device the fixture runs use: LATHE_TEST_DEVICE's (cpu unless it says cuda).
std::string test_device_name() { return device_name(testing::test_device()); }

// The fixture folders need their architecture registered in this build.
bool can_load(const std::string& name) {
  auto dir = models_dir() + "/" + name;
  if (!fs::exists(dir + "/config.json")) return false;
  auto cfg = nlohmann::json::parse(slurp(dir + "/config.json"));
  auto types = supported_model_types();
  return std::find(types.begin(), types.end(), cfg.value("model_type", "")) != types.end();
}

std::vector<int64_t> ints(Array a) {
  a = astype(a, int64);
  return a.to_vector<int64_t>();
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

// The last line of stdout, parsed as the --json object.
nlohmann::json last_json(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  size_t nl = s.rfind('\n');
  return nlohmann::json::parse(nl == std::string::npos ? s : s.substr(nl + 1));
}

TEST(RunCli, GreedyRunMatchesTransformers) {
  int checked = 0;
  for (const char* name : {"llama-tiny", "llama-tied", "qwen2-tiny", "qwen3-tiny",
                           "gemma3-text-tiny", "llama-sharded"}) {
    if (!can_load(name)) continue;
    std::string dir = models_dir() + "/" + name;
    auto ref = io::load_safetensors(dir + "/reference.safetensors");
    auto prompt = ints(ref.at("input_ids"));
    auto want = ints(ref.at("greedy_ids"));
    auto margin = ref.at("greedy_margin").to_vector<float>();
    Result r = lathe_cli({"run", dir, "--prompt-ids", join(prompt), "--max-tokens",
                          std::to_string(want.size()), "--temperature", "0", "--ignore-eos",
                          "--json", "--prefill-chunk", "7", "--device", test_device_name()});
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    auto j = last_json(r.out);
    auto got = j.at("ids").get<std::vector<int64_t>>();
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t i = 0; i < want.size() && margin[i] > 1e-3f; ++i)
      EXPECT_EQ(got[i], want[i]) << name << " step " << i;
    EXPECT_EQ(j.at("prompt_tokens").get<int>(), static_cast<int>(prompt.size()));
    EXPECT_GT(j.at("peak_memory_bytes").get<int64_t>(), 0);
    EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no fixture architecture is registered yet";
}

TEST(RunCli, GreedyTextRunMatchesTransformers) {
  if (!can_load("llama-tied")) GTEST_SKIP() << "llama is not registered yet";
  std::string dir = models_dir() + "/llama-tied";
  auto ref = io::load_safetensors(dir + "/reference.safetensors");
  auto meta = nlohmann::json::parse(slurp(dir + "/reference.json"));
  auto want = ints(ref.at("text_greedy_ids"));
  Result r = lathe_cli({"run", dir, "-p", meta.at("text_prompt").get<std::string>(), "--raw",
                        "--max-tokens", std::to_string(want.size()), "--temperature", "0",
                        "--ignore-eos", "--json", "--device", test_device_name()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = last_json(r.out);
  EXPECT_EQ(j.at("ids").get<std::vector<int64_t>>(), want);
  EXPECT_EQ(j.at("text").get<std::string>(), meta.at("text_greedy_decoded").get<std::string>());
  EXPECT_EQ(j.at("prompt_tokens").get<int64_t>(), ref.at("text_input_ids").shape(-1));
  // The streamed text comes first on stdout.
  EXPECT_EQ(r.out.rfind(meta.at("text_greedy_decoded").get<std::string>(), 0), 0u) << r.out;
}

// A copy of llama-tied with a small chat template, to check what `run` feeds the model.
fs::path chat_folder() {
  fs::path dir = fs::temp_directory_path() / ("lathe_cli_chat_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(models_dir() + "/llama-tied"))
    fs::copy_file(e.path(), dir / e.path().filename(), fs::copy_options::overwrite_existing);
  std::ofstream(dir / "chat_template.jinja")
      << "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
         "{% if add_generation_prompt %}[assistant]{% endif %}";
  return dir;
}

TEST(RunCli, ChatTemplateAndInteractiveTurns) {
  if (!can_load("llama-tied")) GTEST_SKIP() << "llama is not registered yet";
  fs::path dir = chat_folder();
  auto tok = text::Tokenizer::from_dir(dir.string());
  const std::string bos = tok.special_tokens().bos_token;
  auto count = [&](const std::string& s) { return static_cast<int>(tok.encode(s, false).size()); };
  // One shot with a system message: the rendered conversation, special tokens from the template.
  Result r = lathe_cli({"run", dir.string(), "-p", "Hello there", "--system", "Be brief.",
                        "--max-tokens", "3", "--temperature", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(last_json(r.out).at("prompt_tokens").get<int>(),
            count(bos + "[system] Be brief.\n[user] Hello there\n[assistant]"));
  // --raw: the prompt as is, with the tokenizer's own special tokens.
  Result raw = lathe_cli({"run", dir.string(), "-p", "Hello there", "--raw", "--max-tokens", "3",
                          "--temperature", "0", "--json"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(last_json(raw.out).at("prompt_tokens").get<int>(),
            static_cast<int>(tok.encode("Hello there", true).size()));
  // Two turns on stdin: the second prompt holds the whole conversation.
  Result chat = lathe_cli({"run", dir.string(), "--interactive", "--max-tokens", "3",
                           "--temperature", "0", "--json", "--no-stats"},
                          "Hello there\nAnd then?\n");
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  std::vector<nlohmann::json> turns;
  std::istringstream lines(chat.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') turns.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(turns.size(), 2u) << chat.out;
  std::string first_reply = turns[0].at("text").get<std::string>();
  EXPECT_EQ(turns[1].at("prompt_tokens").get<int>(),
            count(bos + "[user] Hello there\n[assistant] " + first_reply +
                  "\n[user] And then?\n[assistant]"));
  fs::remove_all(dir);
}

TEST(RunCli, LogitsMatchTransformers) {
  if (!can_load("llama-tiny")) GTEST_SKIP() << "llama is not registered yet";
  std::string dir = models_dir() + "/llama-tiny";
  auto ref = io::load_safetensors(dir + "/reference.safetensors");
  auto ids = ints(ref.at("input_ids"));
  auto want = ref.at("logits").to_vector<float>();
  fs::path out =
      fs::temp_directory_path() / ("lathe_cli_logits_" + std::to_string(::getpid()) + ".npy");
  Result r = lathe_cli(
      {"logits", dir, "--ids", join(ids), "--out", out.string(), "--device", test_device_name()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Array got_a = io::load_npy(out.string());
  fs::remove(out);
  int64_t v = ref.at("logits").shape(-1);
  ASSERT_EQ(got_a.shape(), (Shape{static_cast<int64_t>(ids.size()), v}));
  auto got = got_a.to_vector<float>();
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * double(got[i] - want[i]);
    den += want[i] * double(want[i]);
  }
  EXPECT_LE(std::sqrt(num / den), 1e-4);
  // The JSON form: the top ids of the last position, largest first.
  Result t = lathe_cli({"logits", dir, "--ids", join(ids), "--top", "3"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  auto j = nlohmann::json::parse(t.out);
  std::vector<int> order(static_cast<size_t>(v));
  for (int i = 0; i < v; ++i) order[i] = i;
  const float* last = want.data() + (ids.size() - 1) * static_cast<size_t>(v);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return last[a] > last[b]; });
  ASSERT_EQ(j.at("top").size(), 3u);
  EXPECT_EQ(j.at("top")[0].at("id").get<int>(), order[0]);
}

}  // namespace
}  // namespace lathe
