// The generation loop's mechanics on a scripted fake model: budgets, EOS, stop strings
// across tokens, UTF-8-safe streaming, chunked prefill and flat memory.
#include "lathe/engine/generate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/fake_model.h"
#include "lathe/engine/stop_strings.h"
#include "lathe/lathe.h"

namespace lathe {
namespace {

using testing::FakeModel;

class Generate : public ::testing::Test {
 protected:
  void SetUp() override { eval(); }
};

GenerateOptions greedy(int max_tokens) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampler.temperature = 0;
  return o;
}

std::vector<int32_t> range_ids(int from, int n, int vocab) {
  std::vector<int32_t> v;
  for (int i = 0; i < n; ++i) v.push_back((from + i) % vocab);
  return v;
}

// GPT-2's byte-to-character table (bytes_to_unicode), written from its definition: printable
// Latin-1 bytes map to themselves, the others to U+0100 onwards in byte order.
std::string byte_token(uint8_t b) {
  auto printable = [](int c) {
    return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174;
  };
  int cp = b;
  if (!printable(b)) {
    int n = 0;
    for (int c = 0; c < b; ++c) n += !printable(c);
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// A byte-level tokenizer from the tokenizer fixtures; <|endoftext|> (id 0) is its EOS.
const text::Tokenizer& gpt2() {
  static text::Tokenizer t =
      text::Tokenizer::from_dir(std::string(LATHE_SOURCE_DIR) + "/tests/data/tokenizers/bpe_gpt2");
  return t;
}

// One token per byte of text.
std::vector<int32_t> byte_ids(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) {
    auto id = gpt2().token_to_id(byte_token(c));
    if (!id) throw Error("no byte token for " + std::to_string(c));
    ids.push_back(*id);
  }
  return ids;
}

struct Streamed {
  std::vector<std::string> pieces;
  std::vector<int32_t> ids;
  std::string joined() const {
    std::string s;
    for (const auto& p : pieces) s += p;
    return s;
  }
};

void capture(GenerateOptions& o, Streamed& s) {
  o.on_text = [&s](std::string_view t) { s.pieces.emplace_back(t); };
  o.on_token = [&s](int32_t id) { s.ids.push_back(id); };
}

TEST_F(Generate, GreedyFollowsTheModelForMaxTokens) {
  FakeModel m(50);
  std::vector<int32_t> prompt{3, 4, 5};
  auto r = generate(m, prompt, greedy(10));
  EXPECT_EQ(r.ids, range_ids(6, 10, 50));
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.prompt_tokens, 3);
  EXPECT_EQ(r.generated_tokens, 10);
  EXPECT_GT(r.timings.ttft_s, 0);
  EXPECT_GT(r.timings.prefill_s, 0);
  EXPECT_GE(r.timings.ttft_s, r.timings.prefill_s);
  EXPECT_GE(r.timings.decode_s, 0);
  // Wrapping around the vocabulary, and a one-token prompt.
  auto w = generate(m, std::vector<int32_t>{47}, greedy(5));
  EXPECT_EQ(w.ids, (std::vector<int32_t>{48, 49, 0, 1, 2}));
}

TEST_F(Generate, ZeroMaxTokensGeneratesNothing) {
  FakeModel m(10);
  auto r = generate(m, std::vector<int32_t>{1}, greedy(0));
  EXPECT_TRUE(r.ids.empty());
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_TRUE(m.calls.empty());
}

TEST_F(Generate, EosEndsGenerationUnlessIgnored) {
  FakeModel m(50);
  GenerateOptions o = greedy(20);
  o.eos_ids = {9};
  Streamed s;
  capture(o, s);
  auto r = generate(m, std::vector<int32_t>{5}, o);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{6, 7, 8, 9})) << "the EOS id ends the list";
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(s.ids, r.ids);
  o.ignore_eos = true;
  auto all = generate(m, std::vector<int32_t>{5}, o);
  EXPECT_EQ(all.ids, range_ids(6, 20, 50));
  EXPECT_EQ(all.finish_reason, "length");
}

TEST_F(Generate, TokenizerEosCascadeStopsAndIsNotInTheText) {
  const auto& tok = gpt2();
  ASSERT_EQ(tok.special_tokens().eos_ids, (std::vector<int32_t>{0}));
  std::vector<int32_t> prompt = tok.encode("Say hi:");
  std::vector<int32_t> script = byte_ids(" hi!");
  script.push_back(0);
  script.push_back(byte_ids("x")[0]);
  FakeModel m(static_cast<int>(tok.vocab_size()), script, static_cast<int>(prompt.size()) - 1);
  GenerateOptions o = greedy(30);
  Streamed s;
  capture(o, s);
  auto r = generate(m, tok, prompt, o);
  EXPECT_EQ(r.text, " hi!");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.ids.back(), 0);
  EXPECT_EQ(r.generated_tokens, 5);
  EXPECT_EQ(s.joined(), r.text);
}

TEST_F(Generate, StopStringsAcrossTokensAreNeverEmitted) {
  const auto& tok = gpt2();
  std::vector<int32_t> prompt{byte_ids("Q")[0]};
  const std::string script_text = "Hello STOx world. STOP here";
  FakeModel m(static_cast<int>(tok.vocab_size()), byte_ids(script_text), 0);
  GenerateOptions o = greedy(100);
  o.stop_strings = {"STOP", "never"};
  Streamed s;
  capture(o, s);
  auto r = generate(m, tok, prompt, o);
  EXPECT_EQ(r.text, "Hello STOx world. ");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(s.joined(), r.text);
  for (const auto& p : s.pieces) EXPECT_EQ(p.find('P'), std::string::npos) << p;
  // The ids stop with the token that completed the stop string.
  EXPECT_EQ(r.ids.size(), std::string("Hello STOx world. STOP").size());
  // A stop string the text never completes is released at the end.
  o.stop_strings = {" here!"};
  Streamed s2;
  capture(o, s2);
  o.max_tokens = static_cast<int>(script_text.size());
  auto full = generate(m, tok, prompt, o);
  EXPECT_EQ(full.text, script_text);
  EXPECT_EQ(full.finish_reason, "length");
  EXPECT_EQ(s2.joined(), script_text);
}

TEST_F(Generate, StopStringInsideOneMultiByteToken) {
  const auto& tok = gpt2();
  // Tokens whose text is longer than one character, so a stop string sits inside one.
  std::vector<int32_t> multi = tok.encode(" the the", false);
  ASSERT_LE(multi.size(), 3u);
  auto h = tok.decode(multi);
  ASSERT_EQ(h, " the the");
  FakeModel m(static_cast<int>(tok.vocab_size()), multi, 0);
  GenerateOptions o = greedy(10);
  o.stop_strings = {"he t"};
  Streamed s;
  capture(o, s);
  auto r = generate(m, tok, std::vector<int32_t>{byte_ids("a")[0]}, o);
  EXPECT_EQ(r.text, " t");
  EXPECT_EQ(s.joined(), " t");
  EXPECT_EQ(r.finish_reason, "stop");
}

bool complete_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

TEST_F(Generate, StreamingIsUtf8SafeWhenCharactersSpanTokens) {
  const auto& tok = gpt2();
  const std::string text =
      "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82!";  // café 日本 🙂!
  FakeModel m(static_cast<int>(tok.vocab_size()), byte_ids(text), 0);
  GenerateOptions o = greedy(static_cast<int>(text.size()));
  o.stop_strings = {"\xE6\x9C\xAC!"};  // "本!" never occurs: a multibyte prefix is held back
  Streamed s;
  capture(o, s);
  auto r = generate(m, tok, std::vector<int32_t>{byte_ids("a")[0]}, o);
  EXPECT_EQ(r.text, text);
  EXPECT_EQ(s.joined(), text);
  EXPECT_GT(s.pieces.size(), 5u);
  for (const auto& p : s.pieces) EXPECT_TRUE(complete_utf8(p)) << "a piece splits a character";
}

TEST_F(Generate, ChunkedPrefillCallsAndSameResult) {
  std::vector<int32_t> prompt = range_ids(0, 10, 40);
  FakeModel chunked(40), whole(40);
  GenerateOptions o = greedy(4);
  o.prefill_chunk = 4;
  auto a = generate(chunked, prompt, o);
  // 9 prompt tokens in chunks of 4, the last prompt token alone, then one per new token.
  EXPECT_EQ(chunked.calls, (std::vector<int>{4, 4, 1, 1, 1, 1, 1}));
  o.prefill_chunk = 2048;
  auto b = generate(whole, prompt, o);
  EXPECT_EQ(whole.calls, (std::vector<int>{9, 1, 1, 1, 1}));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.ids, range_ids(10, 4, 40));
}

TEST_F(Generate, ContextLengthBoundsTheGeneration) {
  FakeModel m(30);
  GenerateOptions o = greedy(100);
  o.context_length = 8;
  auto r = generate(m, std::vector<int32_t>{1, 2, 3}, o);
  // 3 prompt positions + 5 fed-back ids fill 8 positions: 6 ids in all.
  EXPECT_EQ(r.ids, range_ids(4, 6, 30));
  EXPECT_EQ(r.finish_reason, "length");
  o.context_length = 2;
  EXPECT_THROW(generate(m, std::vector<int32_t>{1, 2, 3}, o), Error);
}

TEST_F(Generate, CancelledEndsWithinOneStep) {
  FakeModel m(30);
  GenerateOptions o = greedy(20);
  int seen = 0;
  o.on_token = [&](int32_t) { ++seen; };
  o.cancelled = [&] { return seen >= 3; };
  Generator g(m, nullptr, 64);
  auto r = g.generate(std::vector<int32_t>{1, 2, 3}, o);
  EXPECT_EQ(r.ids, range_ids(4, 3, 30));
  EXPECT_EQ(r.finish_reason, "cancelled");
  // The caches stay usable: the same generator answers the next request in full.
  o.cancelled = nullptr;
  auto full = g.generate(std::vector<int32_t>{1, 2, 3}, o);
  EXPECT_EQ(full.ids, range_ids(4, 20, 30));
  // Cancelled before the prompt is prefilled: nothing is generated.
  o.cancelled = [] { return true; };
  o.prefill_chunk = 1;
  auto none = generate(m, std::vector<int32_t>{1, 2, 3}, o);
  EXPECT_TRUE(none.ids.empty());
  EXPECT_EQ(none.finish_reason, "cancelled");
}

TEST_F(Generate, BadOptionsAndPromptsThrow) {
  FakeModel m(10);
  std::vector<int32_t> ok{1};
  auto expect = [&](GenerateOptions o, std::vector<int32_t> prompt, const std::string& what) {
    try {
      generate(m, prompt, o);
      FAIL() << "no error for " << what;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  };
  GenerateOptions o;
  o.max_tokens = -1;
  expect(o, ok, "max_tokens");
  o = {};
  o.prefill_chunk = 0;
  expect(o, ok, "prefill_chunk");
  o = {};
  expect(o, {}, "empty");
  expect(o, {10}, "outside");
  expect(o, {-1}, "outside");
  o.stop_strings = {"x"};
  expect(o, ok, "tokenizer");
  o.stop_strings = {""};
  expect(o, ok, "stop string is empty");
  o = {};
  o.sampler.top_p = 2;
  expect(o, ok, "top_p");
}

TEST_F(Generate, SampledGenerationIsSeeded) {
  // A model whose every token is equally likely: flat logits through the penalty path.
  FakeModel m(64, std::vector<int32_t>(0));
  GenerateOptions o;
  o.max_tokens = 12;
  o.sampler.seed = 11;
  o.sampler.temperature = 50.0;  // flattens the fake model's one-hot logits
  auto a = generate(m, std::vector<int32_t>{1}, o);
  auto b = generate(m, std::vector<int32_t>{1}, o);
  EXPECT_EQ(a.ids, b.ids);
  o.sampler.seed = 12;
  auto c = generate(m, std::vector<int32_t>{1}, o);
  EXPECT_NE(a.ids, c.ids);
}

TEST_F(Generate, MemoryIsFlatOverTwoThousandTokens) {
  const int n = 2000;
  FakeModel m(997);
  GenerateOptions o;
  o.max_tokens = n;
  o.sampler.seed = 5;
  o.sampler.top_p = 0.9;
  o.sampler.top_k = 50;
  o.sampler.repetition_penalty = 1.1;
  o.sampler.frequency_penalty = 0.1;
  size_t live_warm = 0, active_warm = 0, live_end = 0, active_end = 0;
  int step = 0;
  o.on_token = [&](int32_t) {
    ++step;
    if (step == 100 || step == n) {
      auto l = live_arrays();
      (step == 100 ? live_warm : live_end) = l.kept + l.unkept;
      (step == 100 ? active_warm : active_end) = active_memory();
    }
  };
  auto r = generate(m, std::vector<int32_t>{1, 2, 3}, o);
  ASSERT_EQ(r.generated_tokens, n);
  EXPECT_GT(live_warm, 0u);
  EXPECT_LE(live_end, live_warm + 2) << live_arrays().str();
  EXPECT_LE(active_end, active_warm + 4096) << live_arrays().str();
}

TEST_F(Generate, GeneratorReusesTheCachedConversation) {
  // A position-scripted model: ids come out right only if every position is where it should be.
  std::vector<int32_t> script = range_ids(7, 60, 40);
  FakeModel m(40, script, 0);
  Generator g(m, nullptr, 64);
  std::vector<int32_t> turn1{1, 2, 3};
  auto a = g.generate(turn1, greedy(4));
  EXPECT_EQ(a.ids, (std::vector<int32_t>{9, 10, 11, 12}));
  EXPECT_EQ(a.reused_tokens, 0);
  // The last id was never fed back (the budget ended there): 3 prompt + 3 fed ids cached.
  EXPECT_EQ(g.cached_ids(), (std::vector<int32_t>{1, 2, 3, 9, 10, 11}));
  // The conversation goes on: prompt 2 extends what is cached.
  std::vector<int32_t> turn2{1, 2, 3, 9, 10, 11, 12, 30, 31};
  m.calls.clear();
  auto b = g.generate(turn2, greedy(3));
  EXPECT_EQ(b.reused_tokens, 6);
  EXPECT_EQ(m.calls, (std::vector<int>{2, 1, 1, 1})) << "only the 3 new prompt tokens are run";
  FakeModel fresh(40, script, 0);
  EXPECT_EQ(b.ids, generate(fresh, turn2, greedy(3)).ids);
  // A prompt that does not extend the cache starts over in the same buffers.
  m.calls.clear();
  std::vector<int32_t> other{5, 6};
  auto c = g.generate(other, greedy(2));
  EXPECT_EQ(c.reused_tokens, 0);
  EXPECT_EQ(m.calls, (std::vector<int>{1, 1, 1}));
  FakeModel fresh2(40, script, 0);
  EXPECT_EQ(c.ids, generate(fresh2, other, greedy(2)).ids);
  // An EOS ends the turn after its id was fed back: it is cached too.
  GenerateOptions o = greedy(10);
  o.eos_ids = {12};
  g.reset();
  auto d = g.generate(turn1, o);
  EXPECT_EQ(d.ids, (std::vector<int32_t>{9, 10, 11, 12}));
  EXPECT_EQ(g.cached_ids(), (std::vector<int32_t>{1, 2, 3, 9, 10, 11, 12}));
  // A prompt longer than the context is refused.
  EXPECT_THROW(g.generate(range_ids(0, 65, 40), greedy(1)), Error);
}

TEST(StopStringMatcher, HoldsBackOnlyPossibleStarts) {
  StopStringMatcher m({"abc", "xy"});
  EXPECT_EQ(m.push("12a"), "12");
  EXPECT_EQ(m.push("b"), "");
  EXPECT_EQ(m.push("d"), "abd");
  EXPECT_EQ(m.push("x"), "");
  EXPECT_EQ(m.push("ab"), "x");  // "xa" cannot be "xy"; "ab" may be "abc"
  EXPECT_EQ(m.push("cxy"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "abc");
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
  StopStringMatcher earliest({"later", "la"});
  EXPECT_EQ(earliest.push("one la"), "one ");
  EXPECT_EQ(earliest.matched(), "la");
  StopStringMatcher end({"zz"});
  EXPECT_EQ(end.push("az"), "a");
  EXPECT_EQ(end.flush(), "z");
  EXPECT_THROW(StopStringMatcher({""}), Error);
}

}  // namespace
}  // namespace lathe
