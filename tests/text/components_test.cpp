// Normalizers, pre-tokenizers and decoders alone, against the tokenizers library's outputs
// recorded in tests/data/tokenizers/components.json.
#include "lathe/text/components.h"

#include <gtest/gtest.h>

#include "text/fixtures.h"

namespace lathe::testing {
namespace {

using namespace lathe::text;

const nlohmann::json& components() {
  static const nlohmann::json j = read_json(tokenizer_fixtures() / "components.json");
  return j;
}

TEST(Components, Normalizers) {
  auto& list = components()["normalizers"];
  ASSERT_GE(list.size(), 15u);
  for (size_t k = 0; k < list.size(); ++k) {
    auto& entry = list[k];
    auto n = make_normalizer(entry["config"], JsonPath("components.json", "normalizer"));
    ASSERT_TRUE(n);
    int bad = 0;
    for (auto& c : entry["cases"]) {
      std::string s = c[0];
      n->normalize(s);
      if (s != c[1] && bad++ < 3)
        ADD_FAILURE() << entry["config"].dump() << "\n in   " << c[0].dump() << "\n want "
                      << c[1].dump() << "\n got  " << nlohmann::json(s).dump();
    }
  }
}

TEST(Components, PreTokenizers) {
  auto& list = components()["pre_tokenizers"];
  ASSERT_GE(list.size(), 25u);
  for (auto& entry : list) {
    auto p = make_pre_tokenizer(entry["config"], JsonPath("components.json", "pre_tokenizer"));
    ASSERT_TRUE(p);
    int bad = 0;
    for (auto& c : entry["cases"]) {
      std::string in = c[0];
      std::vector<Piece> pieces;
      if (!in.empty()) pieces.push_back({in, 0, -1});
      p->pre_tokenize(pieces);
      std::vector<std::string> got;
      for (auto& q : pieces) got.push_back(q.text);
      auto want = c[1].get<std::vector<std::string>>();
      if (got != want && bad++ < 3)
        ADD_FAILURE() << entry["config"].dump() << "\n in   " << c[0].dump() << "\n want "
                      << c[1].dump() << "\n got  " << nlohmann::json(got).dump();
    }
  }
}

TEST(Components, Decoders) {
  auto& list = components()["decoders"];
  ASSERT_GE(list.size(), 12u);
  for (auto& entry : list) {
    auto d = make_decoder(entry["config"], JsonPath("components.json", "decoder"));
    ASSERT_TRUE(d);
    int bad = 0;
    for (auto& c : entry["cases"]) {
      auto tokens = c[0].get<std::vector<std::string>>();
      d->decode_chain(tokens);
      std::string got;
      for (auto& t : tokens) got += t;
      if (got != c[1] && bad++ < 3)
        ADD_FAILURE() << entry["config"].dump() << "\n in   " << c[0].dump() << "\n want "
                      << c[1].dump() << "\n got  " << nlohmann::json(got).dump();
    }
  }
}

}  // namespace
}  // namespace lathe::testing
