// Exact parity with the Hugging Face tokenizers library: ids, decodes and streaming decodes
// for every committed fixture (tests/data/tokenizers, made by
// scripts/fixtures/make_tokenizer_fixtures.py).
#include <gtest/gtest.h>

#include "lathe/text/streaming_detokenizer.h"
#include "lathe/text/tokenizer.h"
#include "text/fixtures.h"

namespace lathe::testing {
namespace {

using text::Tokenizer;

std::string show(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string stream_decode(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip,
                          bool& partial_utf8) {
  text::StreamingDetokenizer st(tok, skip);
  std::string all;
  auto add = [&](const std::string& piece) {
    // Each emitted chunk must be whole UTF-8 characters.
    size_t i = 0;
    while (i < piece.size()) {
      auto b = static_cast<unsigned char>(piece[i]);
      size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4;
      if (i + n > piece.size()) partial_utf8 = true;
      i += n;
    }
    all += piece;
  };
  for (int32_t id : ids) add(st.step(id));
  add(st.finish());
  return all;
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, IdsDecodesAndStreaming) {
  auto dir = tokenizer_fixtures() / GetParam();
  Tokenizer tok = Tokenizer::from_dir(dir.string());
  auto cases = read_json(dir / "cases.json");
  ASSERT_GT(cases.size(), 100u);
  int bad = 0;
  for (auto& c : cases) {
    std::string in = c["text"];
    auto want = c["ids"].get<std::vector<int32_t>>();
    auto want_sp = c["ids_special"].get<std::vector<int32_t>>();
    auto got = tok.encode(in, false);
    auto got_sp = tok.encode(in, true);
    if (got != want && bad++ < 8)
      ADD_FAILURE() << "encode " << nlohmann::json(in).dump() << "\n want " << show(want)
                    << "\n  got " << show(got);
    if (got_sp != want_sp && bad++ < 8)
      ADD_FAILURE() << "encode+special " << nlohmann::json(in).dump() << "\n want " << show(want_sp)
                    << "\n  got " << show(got_sp);
    std::string d = tok.decode(want_sp, false), ds = tok.decode(want_sp, true);
    std::string dp = tok.decode(want, false);
    if (d != c["decode"] && bad++ < 8)
      ADD_FAILURE() << "decode " << show(want_sp) << "\n want " << c["decode"].dump() << "\n  got "
                    << nlohmann::json(d).dump();
    if (ds != c["decode_skip"] && bad++ < 8)
      ADD_FAILURE() << "decode skip " << show(want_sp) << "\n want " << c["decode_skip"].dump()
                    << "\n  got " << nlohmann::json(ds).dump();
    if (dp != c["decode_plain"] && bad++ < 8)
      ADD_FAILURE() << "decode plain " << show(want) << "\n want " << c["decode_plain"].dump()
                    << "\n  got " << nlohmann::json(dp).dump();
    for (bool skip : {false, true}) {
      bool partial = false;
      std::string streamed = stream_decode(tok, want_sp, skip, partial);
      std::string expect = skip ? c["decode_skip"] : c["decode"];
      if ((streamed != expect || partial) && bad++ < 8)
        ADD_FAILURE() << "stream skip=" << skip << " " << show(want_sp) << "\n want "
                      << nlohmann::json(expect).dump() << "\n  got "
                      << nlohmann::json(streamed).dump() << (partial ? " (partial UTF-8)" : "");
    }
  }
  EXPECT_EQ(bad, 0) << GetParam() << ": mismatches";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

TEST(Parity, CoversEveryFamily) {
  auto names = fixture_names();
  for (const char* want :
       {"bpe_llama3", "bpe_qwen2", "bpe_gpt2", "bpe_gpt2_legacy", "sp_bpe_llama2", "sp_bpe_first",
        "sp_bpe_always", "sp_bpe_never", "wordpiece_bert", "wordpiece_cased", "unigram"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
}

}  // namespace
}  // namespace lathe::testing
