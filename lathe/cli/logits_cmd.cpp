// `lathe logits MODEL_DIR --ids 1,2,3 | --text T [--top N] [--out FILE.npy]`: prints the last
// position's largest logits as JSON, or writes every position's logits (float32 [T, vocab]).
#include "lathe/cli/logits_cmd.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "lathe/cli/flags.h"
#include "lathe/cli/model_options.h"
#include "lathe/core/error.h"
#include "lathe/core/transforms.h"
#include "lathe/io/npy.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"

namespace lathe::cli {

namespace {

const char* kUsage =
    "usage: lathe logits MODEL_DIR (--ids 1,2,3 | --text TEXT) [--top N] [--out FILE.npy]\n"
    "  Runs the model over the whole sequence (one pass, no sampling).\n"
    "  --ids 1,2,3          token ids\n"
    "  --text TEXT          text, encoded with the folder's tokenizer (special tokens added)\n"
    "  --top N              print the N largest logits of the last position as JSON (default 5)\n"
    "  --out, --output FILE write all logits as a float32 [T, vocab] .npy file instead\n"
    "  --device cpu|cuda  --dtype bf16|f16|f32\n"
    "  --tp N               split the model across N tensor-parallel ranks (threads on the CPU)\n";

[[noreturn]] void fail(const std::string& msg) { throw Error("[logits] " + msg); }

}  // namespace

int logits_command(int argc, char** argv) {
  std::vector<FlagSpec> specs = model_flag_specs();
  for (const char* v : {"--ids", "--text", "--top", "--out"}) specs.push_back({v});
  specs.push_back({"--output"});
  Flags f("logits", specs, argc, argv, 2);
  if (f.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (f.has("--ids") == f.has("--text")) fail("give exactly one of --ids and --text");
  if (f.has("--out") && f.has("--output")) fail("--out and --output are the same option; give one");
  auto out = f.has("--out") ? f.text("--out") : f.text("--output");
  if (out && f.has("--top")) fail("--top prints JSON and --out writes a file; give one");
  int64_t top = f.integer("--top", 1, 1 << 20).value_or(5);
  std::vector<int32_t> ids;
  if (auto t = f.text("--ids")) ids = parse_id_list("logits", "--ids", *t);
  ModelChoice choice = model_choice(f);
  auto tokenizer = load_tokenizer(choice.dir);
  if (f.has("--text")) {
    if (!tokenizer) fail("'" + choice.dir + "' has no tokenizer (tokenizer.json); use --ids");
    ids = tokenizer->encode(*f.text("--text"), true);
  }
  if (ids.empty()) fail("no tokens to run");

  auto model = load_kept(choice);
  const int vocab = model->vocab_size();
  for (int32_t id : ids)
    if (id >= vocab)
      fail("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
           std::to_string(vocab) + ")");
  const int64_t t = static_cast<int64_t>(ids.size());
  KVCaches caches = model->make_caches(1, static_cast<int>(t));
  Array logits = astype(model->forward(array(ids, {1, t}), caches), float32);
  if (out) {
    Array all = reshape(logits, {t, vocab});
    io::save_npy(*out, all);
    std::fprintf(stderr, "wrote float32 [%lld, %d] logits to %s\n", static_cast<long long>(t),
                 vocab, out->c_str());
    return 0;
  }
  Array last = reshape(slice_axis(logits, 1, t - 1, t), {vocab});
  std::vector<float> v = last.to_vector<float>();
  std::vector<int> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  size_t n = std::min<size_t>(static_cast<size_t>(top), order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  nlohmann::json j;
  j["ids"] = ids;
  j["position"] = t - 1;
  j["top"] = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    nlohmann::json e{{"id", order[i]}, {"logit", v[static_cast<size_t>(order[i])]}};
    if (tokenizer) {
      if (auto tok = tokenizer->id_to_token(order[i])) e["token"] = *tok;
    }
    j["top"].push_back(e);
  }
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace lathe::cli
