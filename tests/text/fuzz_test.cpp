// Robustness: mutated tokenizer.json files and random input bytes must either work or throw
// lathe::Error, never crash or throw anything else. Fixed seeds, so failures reproduce.
#include <gtest/gtest.h>

#include <random>

#include "lathe/core/error.h"
#include "lathe/text/streaming_detokenizer.h"
#include "lathe/text/tokenizer.h"
#include "text/fixtures.h"

namespace lathe::testing {
namespace {

using text::Tokenizer;
using Json = nlohmann::json;

std::string random_utf8(std::mt19937& rng, size_t n) {
  static const std::vector<std::string> atoms = {"a",
                                                 "Z",
                                                 " ",
                                                 "  ",
                                                 "\t",
                                                 "\n",
                                                 "\r\n",
                                                 "0",
                                                 "123",
                                                 "'s",
                                                 "é",
                                                 "e\xCC\x81",
                                                 "ß",
                                                 "中",
                                                 "日本",
                                                 "한",
                                                 "ع",
                                                 "ह",
                                                 "😀",
                                                 "\xE2\x80\x8D",
                                                 "👩\xE2\x80\x8D💻",
                                                 "<s>",
                                                 "</s>",
                                                 "[MASK]",
                                                 "<tool>",
                                                 "foo",
                                                 "<|eot_id|>",
                                                 "<0x41>",
                                                 "▁",
                                                 "Ġ",
                                                 "##",
                                                 "\xEF\xBF\xBD",
                                                 ".",
                                                 "!?",
                                                 "{}",
                                                 "\\"};
  std::string s;
  std::uniform_int_distribution<size_t> pick(0, atoms.size() - 1);
  for (size_t i = 0; i < n; ++i) s += atoms[pick(rng)];
  return s;
}

Json random_value(std::mt19937& rng) {
  switch (rng() % 8) {
    case 0: return nullptr;
    case 1: return static_cast<int>(rng() % 5) - 1;
    case 2: return rng() % 2 == 0;
    case 3: return "x";
    case 4: return Json::array({"a", 1});
    case 5: return Json::object({{"type", "Sequence"}});
    case 6: return 1e300;
    default: return std::string(1, static_cast<char>('A' + rng() % 26));
  }
}

// Replaces or removes one random node of j.
void mutate(Json& j, std::mt19937& rng, int depth = 0) {
  if ((j.is_object() || j.is_array()) && !j.empty() && (depth < 2 || rng() % 3 != 0)) {
    size_t k = rng() % j.size();
    auto it = j.begin();
    std::advance(it, static_cast<long>(k));
    if (rng() % 6 == 0) {
      if (j.is_object()) {
        j.erase(it.key());
      } else {
        j.erase(k);
      }
      return;
    }
    mutate(*it, rng, depth + 1);
    return;
  }
  j = random_value(rng);
}

void exercise(const Tokenizer& tok, std::mt19937& rng) {
  for (int i = 0; i < 4; ++i) {
    std::string s = random_utf8(rng, rng() % 12);
    try {
      auto ids = tok.encode(s, rng() % 2 == 0);
      tok.decode(ids, rng() % 2 == 0);
      text::StreamingDetokenizer st(tok);
      for (int32_t id : ids) st.step(id);
      st.finish();
    } catch (const Error&) {
    }
  }
  std::vector<int32_t> junk = {-1, 0, 5, 1 << 30, 3};
  tok.decode(junk, false);
}

TEST(Fuzz, MutatedTokenizerJsonLoadsOrThrowsError) {
  std::mt19937 rng(1234);
  int loaded = 0, rejected = 0;
  for (auto& name : fixture_names()) {
    auto path = tokenizer_fixtures() / name / "tokenizer.json";
    if (!std::filesystem::exists(path)) continue;
    Json base = read_json(path);
    for (int iter = 0; iter < 40; ++iter) {
      Json j = base;
      for (int m = 0, n = 1 + rng() % 3; m < n; ++m) mutate(j, rng);
      try {
        Tokenizer tok = Tokenizer::from_json(j.dump(), name + "/mutated.json");
        exercise(tok, rng);
        ++loaded;
      } catch (const Error&) {
        ++rejected;
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << " iteration " << iter << ": non-lathe exception " << e.what();
      }
    }
  }
  EXPECT_GT(loaded, 0);
  EXPECT_GT(rejected, 0);
}

TEST(Fuzz, TruncatedAndCorruptedText) {
  std::mt19937 rng(99);
  std::string base = read_text(tokenizer_fixtures() / "unigram" / "tokenizer.json");
  for (int iter = 0; iter < 60; ++iter) {
    std::string s = base;
    if (iter % 2 == 0) {
      s.resize(rng() % s.size());
    } else {
      for (int k = 0; k < 8; ++k) s[rng() % s.size()] = static_cast<char>(rng() % 256);
    }
    try {
      Tokenizer tok = Tokenizer::from_json(s, "corrupt.json");
      exercise(tok, rng);
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "iteration " << iter << ": non-lathe exception " << e.what();
    }
  }
}

TEST(Fuzz, RandomBytesToEncode) {
  std::mt19937 rng(7);
  int valid = 0;
  for (auto& name : fixture_names()) {
    Tokenizer tok = Tokenizer::from_dir((tokenizer_fixtures() / name).string());
    for (int iter = 0; iter < 100; ++iter) {
      std::string s(rng() % 40, '\0');
      for (auto& c : s) c = static_cast<char>(rng() % (iter % 2 ? 256 : 128));
      try {
        auto ids = tok.encode(s, true);
        tok.decode(ids, true);
        ++valid;
      } catch (const Error&) {
      }
      std::string u = random_utf8(rng, rng() % 30);
      auto ids = tok.encode(u, true);
      EXPECT_NO_THROW(tok.decode(ids, false));
    }
  }
  EXPECT_GT(valid, 0);
}

}  // namespace
}  // namespace lathe::testing
