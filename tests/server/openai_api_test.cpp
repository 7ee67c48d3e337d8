// The OpenAI API's response shapes against a live server: chat completions and completions,
// whole and streamed (SSE ending in [DONE]), usage, max_tokens, stop, and /v1/models; and the
// same greedy answer as the Ollama API for the same messages.
#include <gtest/gtest.h>

#include "server/server_fixture.h"

namespace lathe::testing {
namespace {

class OpenAiApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RunningServer(); }
  static void TearDownTestSuite() { delete server_; }
  static RunningServer* server_;
  const RunningServer& s() { return *server_; }
};
RunningServer* OpenAiApi::server_ = nullptr;

json chat(const std::string& content, int max_tokens, bool stream) {
  return {{"model", "tiny-chat"},
          {"messages", {{{"role", "user"}, {"content", content}}}},
          {"max_tokens", max_tokens},
          {"temperature", 0},
          {"stream", stream}};
}

void expect_usage(const json& u, int completion) {
  ASSERT_TRUE(u.is_object()) << u;
  EXPECT_GT(u["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(u["completion_tokens"], completion);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + completion);
}

TEST_F(OpenAiApi, ChatCompletionWholeMatchesOllamaChat) {
  auto r = post(s(), "/v1/chat/completions", chat("Hello", 10, false));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = body_of(r);
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_EQ(j["model"], "tiny-chat");
  ASSERT_EQ(j["choices"].size(), 1u);
  const auto& c = j["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_EQ(c["finish_reason"], "length");
  expect_usage(j["usage"], 10);

  json ollama = {{"model", "tiny-chat"},
                 {"messages", {{{"role", "user"}, {"content", "Hello"}}}},
                 {"stream", false},
                 {"options", {{"temperature", 0}, {"num_predict", 10}}}};
  auto o = body_of(post(s(), "/api/chat", ollama));
  EXPECT_EQ(c["message"]["content"], o["message"]["content"]);
  EXPECT_EQ(j["usage"]["prompt_tokens"], o["prompt_eval_count"]);
  EXPECT_EQ(j["usage"]["completion_tokens"], o["eval_count"]);
  // max_completion_tokens is the newer name of max_tokens; content parts join.
  json parts = chat("Hello", 0, false);
  parts.erase("max_tokens");
  parts["max_completion_tokens"] = 10;
  parts["messages"][0]["content"] = {{{"type", "text"}, {"text", "Hel"}},
                                     {{"type", "text"}, {"text", "lo"}}};
  auto p = body_of(post(s(), "/v1/chat/completions", parts));
  EXPECT_EQ(p["choices"][0]["message"]["content"], c["message"]["content"]);
}

TEST_F(OpenAiApi, ChatCompletionStreamIsSseWithUsageAndDone) {
  std::string whole =
      body_of(post(s(), "/v1/chat/completions",
                   chat("Stream me", 9, false)))["choices"][0]["message"]["content"];
  json body = chat("Stream me", 9, true);
  body["stream_options"] = {{"include_usage", true}};
  auto r = post(s(), "/v1/chat/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string joined, id;
  bool finished = false, usage_seen = false;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto j = json::parse(events[i]);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    if (id.empty()) id = j["id"];
    EXPECT_EQ(j["id"], id);  // one id for the whole stream
    EXPECT_EQ(j["model"], "tiny-chat");
    if (j["choices"].empty()) {
      expect_usage(j["usage"], 9);
      usage_seen = true;
      continue;
    }
    EXPECT_TRUE(j["usage"].is_null());
    const auto& ch = j["choices"][0];
    if (i == 0) EXPECT_EQ(ch["delta"]["role"], "assistant");
    if (ch["delta"].contains("content")) joined += ch["delta"]["content"].get<std::string>();
    if (!ch["finish_reason"].is_null()) {
      EXPECT_EQ(ch["finish_reason"], "length");
      finished = true;
    }
  }
  EXPECT_TRUE(finished);
  EXPECT_TRUE(usage_seen);
  EXPECT_EQ(joined, whole);
  // Without include_usage no usage chunk is sent.
  auto plain = sse_data(post(s(), "/v1/chat/completions", chat("Stream me", 9, true))->body);
  for (size_t i = 0; i + 1 < plain.size(); ++i)
    EXPECT_FALSE(json::parse(plain[i]).contains("usage"));
}

TEST_F(OpenAiApi, StopAsStringOrListAndSeed) {
  std::string text =
      body_of(post(s(), "/v1/chat/completions",
                   chat("Stop here", 20, false)))["choices"][0]["message"]["content"];
  ASSERT_GT(text.size(), 4u);
  // The first character of the answer's second half that is plain ASCII.
  size_t at = text.size() / 2;
  while (at < text.size() && static_cast<unsigned char>(text[at]) >= 0x80) ++at;
  ASSERT_LT(at, text.size());
  std::string stop(1, text[at]);
  for (json stops : {json(stop), json::array({"zzzz", stop})}) {
    json body = chat("Stop here", 20, false);
    body["stop"] = stops;
    auto j = body_of(post(s(), "/v1/chat/completions", body));
    EXPECT_EQ(j["choices"][0]["message"]["content"], text.substr(0, text.find(stop)));
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  }
  json seeded = chat("Seeded", 8, false);
  seeded["temperature"] = 2;
  seeded["seed"] = 5;
  seeded["top_p"] = 1;
  auto a = body_of(post(s(), "/v1/chat/completions", seeded));
  auto b = body_of(post(s(), "/v1/chat/completions", seeded));
  EXPECT_EQ(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);
}

TEST_F(OpenAiApi, CompletionsWholeAndStreamed) {
  json body = {{"model", "tiny-chat"}, {"prompt", "Once upon"}, {"temperature", 0}};
  auto r = post(s(), "/v1/completions", body);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = body_of(r);
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["index"], 0);
  // The endpoint's documented default: 16 tokens.
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  expect_usage(j["usage"], 16);
  // The raw prompt, as Ollama's raw generate.
  auto raw = body_of(post(s(), "/api/generate",
                          {{"model", "tiny-chat"},
                           {"prompt", "Once upon"},
                           {"raw", true},
                           {"stream", false},
                           {"options", {{"num_predict", 16}, {"temperature", 0}}}}));
  EXPECT_EQ(j["choices"][0]["text"], raw["response"]);
  EXPECT_EQ(j["usage"]["prompt_tokens"], raw["prompt_eval_count"]);

  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto events = sse_data(post(s(), "/v1/completions", body)->body);
  ASSERT_EQ(events.back(), "[DONE]");
  std::string joined;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto e = json::parse(events[i]);
    EXPECT_EQ(e["object"], "text_completion");
    if (!e["choices"].empty())
      joined += e["choices"][0]["text"].get<std::string>();
    else
      expect_usage(e["usage"], 16);
  }
  EXPECT_EQ(joined, j["choices"][0]["text"]);
}

TEST_F(OpenAiApi, ModelsListAndOne) {
  auto j = body_of(s().client().Get("/v1/models"));
  EXPECT_EQ(j["object"], "list");
  std::vector<std::string> ids;
  for (const auto& m : j["data"]) {
    ids.push_back(m["id"]);
    EXPECT_EQ(m["object"], "model");
    EXPECT_TRUE(m["created"].is_number_integer());
    EXPECT_EQ(m["owned_by"], "lathe");
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"no-tokenizer", "tiny-chat", "tiny-raw"}));
  auto one = s().client().Get("/v1/models/tiny-chat");
  EXPECT_EQ(one->status, 200);
  EXPECT_EQ(body_of(one)["id"], "tiny-chat");
}

}  // namespace
}  // namespace lathe::testing
