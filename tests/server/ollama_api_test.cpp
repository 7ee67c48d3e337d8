// The Ollama API's response shapes against a live server: health, version, tags, show, ps,
// generate and chat (streamed and whole), options, load/unload and keep-alive.
#include <gtest/gtest.h>

#include <regex>

#include "lathe/text/tokenizer.h"
#include "server/server_fixture.h"

namespace lathe::testing {
namespace {

const std::regex kRfc3339Nanos(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");

class OllamaApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RunningServer(); }
  static void TearDownTestSuite() { delete server_; }
  static RunningServer* server_;
  const RunningServer& s() { return *server_; }
};
RunningServer* OllamaApi::server_ = nullptr;

json chat_body(const std::string& content, int num_predict, bool stream) {
  return {{"model", "tiny-chat"},
          {"messages", {{{"role", "user"}, {"content", content}}}},
          {"stream", stream},
          {"options", {{"num_predict", num_predict}}}};
}

// What the tiny-chat template renders for one user message, written out by hand.
size_t rendered_tokens(const std::string& user) {
  auto tok = text::Tokenizer::from_dir(models_dir() + "/tiny-chat");
  std::string text = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + user +
                     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  return tok.encode(text, false).size();
}

void expect_final_stats(const json& j) {
  EXPECT_EQ(j["done"], true);
  EXPECT_TRUE(j["done_reason"] == "stop" || j["done_reason"] == "length") << j;
  for (const char* k : {"total_duration", "load_duration", "prompt_eval_count",
                        "prompt_eval_duration", "eval_count", "eval_duration"})
    ASSERT_TRUE(j.contains(k) && j[k].is_number_integer()) << k << " in " << j;
  EXPECT_GT(j["total_duration"].get<int64_t>(), 0);
  EXPECT_GE(j["total_duration"].get<int64_t>(),
            j["prompt_eval_duration"].get<int64_t>() + j["eval_duration"].get<int64_t>());
}

TEST_F(OllamaApi, HealthAndVersion) {
  auto r = s().client().Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Ollama is running");
  r = s().client().Get("/api/version");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(body_of(r)["version"].is_string());
}

TEST_F(OllamaApi, TagsListsEveryModelFolder) {
  auto r = s().client().Get("/api/tags");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto models = body_of(r)["models"];
  std::vector<std::string> names;
  for (const auto& m : models) {
    names.push_back(m["name"]);
    EXPECT_EQ(m["model"], m["name"]);
    EXPECT_TRUE(std::regex_match(m["modified_at"].get<std::string>(), kRfc3339Nanos)) << m;
    EXPECT_TRUE(m["digest"].is_string());
    EXPECT_EQ(m["details"]["format"], "safetensors");
    EXPECT_EQ(m["details"]["family"], "llama");
    EXPECT_EQ(m["details"]["quantization_level"], "F32");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"no-tokenizer", "tiny-chat", "tiny-raw"}));
  // size: the weight file's bytes.
  EXPECT_EQ(models[1]["size"].get<uint64_t>(),
            std::filesystem::file_size(models_dir() + "/tiny-chat/model.safetensors"));
}

TEST_F(OllamaApi, ShowGivesTemplateDetailsAndModelInfo) {
  auto r = post(s(), "/api/show", {{"model", "tiny-chat"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto j = body_of(r);
  std::ifstream f(models_dir() + "/tiny-chat/chat_template.jinja");
  std::string tmpl((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(j["template"], tmpl);
  EXPECT_EQ(j["details"]["family"], "llama");
  EXPECT_EQ(j["model_info"]["general.architecture"], "llama");
  EXPECT_EQ(j["model_info"]["llama.context_length"], 512);
  EXPECT_EQ(j["model_info"]["llama.block_count"], 2);
  // 2 layers of hidden 64, intermediate 128, 4 x 16 query heads, 2 x 16 kv heads, with
  // biases; tied embedding 1216 x 64; three norms per layer position.
  const int64_t attn = 64 * 64 + 64 + 2 * (64 * 32 + 32) + 64 * 64 + 64;
  const int64_t mlp = 2 * (64 * 128 + 128) + 128 * 64 + 64;
  const int64_t expected = 2 * (attn + mlp + 2 * 64) + 1216 * 64 + 64;
  EXPECT_EQ(j["model_info"]["general.parameter_count"], expected);
  EXPECT_TRUE(std::regex_match(j["modified_at"].get<std::string>(), kRfc3339Nanos));
}

TEST_F(OllamaApi, ChatWholeAndStreamedAgree) {
  auto whole = post(s(), "/api/chat", chat_body("Hello", 12, false));
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  auto w = body_of(whole);
  EXPECT_EQ(w["model"], "tiny-chat");
  EXPECT_TRUE(std::regex_match(w["created_at"].get<std::string>(), kRfc3339Nanos)) << w;
  EXPECT_EQ(w["message"]["role"], "assistant");
  expect_final_stats(w);
  EXPECT_EQ(w["prompt_eval_count"], rendered_tokens("Hello"));
  EXPECT_EQ(w["eval_count"], 12);
  EXPECT_EQ(w["done_reason"], "length");
  const std::string text = w["message"]["content"];
  EXPECT_FALSE(text.empty());

  auto streamed = post(s(), "/api/chat", chat_body("Hello", 12, true));
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200);
  EXPECT_EQ(streamed->get_header_value("Content-Type"), "application/x-ndjson");
  auto lines = ndjson_lines(streamed->body);
  ASSERT_GE(lines.size(), 2u);
  std::string joined;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], "tiny-chat");
    EXPECT_EQ(lines[i]["message"]["role"], "assistant");
    joined += lines[i]["message"]["content"].get<std::string>();
  }
  EXPECT_EQ(joined, text);
  const auto& last = lines.back();
  expect_final_stats(last);
  EXPECT_EQ(last["message"]["content"], "");
  EXPECT_EQ(last["eval_count"], 12);
  // Streaming is the default.
  json no_flag = chat_body("Hello", 12, true);
  no_flag.erase("stream");
  auto dflt = post(s(), "/api/chat", no_flag);
  ASSERT_TRUE(dflt);
  EXPECT_EQ(ndjson_lines(dflt->body).size(), lines.size());
}

TEST_F(OllamaApi, GenerateTemplatesUnlessRawAndReturnsContext) {
  json body = {{"model", "tiny-chat"},
               {"prompt", "Hello"},
               {"stream", false},
               {"options", {{"num_predict", 6}}}};
  auto r = post(s(), "/api/generate", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = body_of(r);
  expect_final_stats(j);
  EXPECT_EQ(j["prompt_eval_count"], rendered_tokens("Hello"));
  // context: the prompt's ids then the generated ones.
  EXPECT_EQ(j["context"].size(),
            j["prompt_eval_count"].get<size_t>() + j["eval_count"].get<size_t>());
  // The same prompt through /api/chat gives the same answer.
  auto c = body_of(post(s(), "/api/chat", chat_body("Hello", 6, false)));
  EXPECT_EQ(j["response"], c["message"]["content"]);

  body["raw"] = true;
  auto raw = body_of(post(s(), "/api/generate", body));
  auto tok = text::Tokenizer::from_dir(models_dir() + "/tiny-chat");
  EXPECT_EQ(raw["prompt_eval_count"], tok.encode("Hello", true).size());

  body["raw"] = false;
  body["stream"] = true;
  auto streamed = post(s(), "/api/generate", body);
  auto lines = ndjson_lines(streamed->body);
  std::string joined;
  for (size_t i = 0; i + 1 < lines.size(); ++i) joined += lines[i]["response"].get<std::string>();
  EXPECT_EQ(joined, j["response"]);
  EXPECT_TRUE(lines.back().contains("context"));
}

TEST_F(OllamaApi, StopStringsEndTheAnswerBeforeThem) {
  auto full = body_of(post(s(), "/api/chat", chat_body("Stop test", 24, false)));
  std::string text = full["message"]["content"];
  ASSERT_GT(text.size(), 8u);
  // A stop string from the middle of the answer (whole UTF-8 characters).
  size_t from = text.size() / 2;
  while (from < text.size() && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80) ++from;
  size_t len = 1;
  while (from + len < text.size() && (static_cast<unsigned char>(text[from + len]) & 0xC0) == 0x80)
    ++len;
  std::string stop = text.substr(from, len);
  json body = chat_body("Stop test", 24, false);
  body["options"]["stop"] = {stop};
  auto j = body_of(post(s(), "/api/chat", body));
  EXPECT_EQ(j["message"]["content"], text.substr(0, text.find(stop)));
  EXPECT_EQ(j["done_reason"], "stop");
}

TEST_F(OllamaApi, SamplingOptionsAreSeeded) {
  json body = chat_body("Seeds", 10, false);
  // Hot enough that the random model's peaked logits leave several candidates.
  body["options"]["temperature"] = 30;
  body["options"]["top_k"] = 500;
  body["options"]["top_p"] = 0.99;
  body["options"]["min_p"] = 0.001;
  body["options"]["repeat_penalty"] = 1.5;
  body["options"]["seed"] = 7;
  auto a = body_of(post(s(), "/api/chat", body));
  auto b = body_of(post(s(), "/api/chat", body));
  EXPECT_EQ(a["message"]["content"], b["message"]["content"]);
  body["options"]["seed"] = 8;
  auto c = body_of(post(s(), "/api/chat", body));
  EXPECT_NE(a["message"]["content"], c["message"]["content"]);
  body["options"]["num_predict"] = 0;
  auto none = body_of(post(s(), "/api/chat", body));
  EXPECT_EQ(none["eval_count"], 0);
  EXPECT_EQ(none["message"]["content"], "");
}

TEST_F(OllamaApi, LoadUnloadAndPs) {
  auto load = body_of(post(s(), "/api/generate", {{"model", "tiny-raw"}}));
  EXPECT_EQ(load["done"], true);
  EXPECT_EQ(load["done_reason"], "load");
  EXPECT_EQ(load["response"], "");
  auto ps = body_of(s().client().Get("/api/ps"));
  bool found = false;
  for (const auto& m : ps["models"]) {
    if (m["name"] != "tiny-raw") continue;
    found = true;
    EXPECT_GT(m["size"].get<int64_t>(), 0);
    EXPECT_TRUE(std::regex_match(m["expires_at"].get<std::string>(), kRfc3339Nanos)) << m;
    EXPECT_EQ(m["size_vram"], 0);
    EXPECT_EQ(m["details"]["family"], "llama");
  }
  EXPECT_TRUE(found) << ps;
  auto unload = body_of(post(
      s(), "/api/chat", {{"model", "tiny-raw"}, {"messages", json::array()}, {"keep_alive", 0}}));
  EXPECT_EQ(unload["done_reason"], "unload");
  EXPECT_EQ(unload["message"]["content"], "");
  ps = body_of(s().client().Get("/api/ps"));
  for (const auto& m : ps["models"]) EXPECT_NE(m["name"], "tiny-raw");
}

TEST_F(OllamaApi, KeepAliveUnloadsAnIdleModel) {
  json body = {{"model", "tiny-raw"},
               {"prompt", "Hi"},
               {"stream", false},
               {"keep_alive", "150ms"},
               {"options", {{"num_predict", 2}}}};
  ASSERT_EQ(post(s(), "/api/generate", body)->status, 200);
  auto listed = [&] {
    json ps = body_of(s().client().Get("/api/ps"));
    for (const auto& m : ps["models"])
      if (m["name"] == "tiny-raw") return true;
    return false;
  };
  EXPECT_TRUE(listed());
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gone = !listed();
  }
  EXPECT_TRUE(gone);
  // keep_alive 0 on a generation unloads as soon as it is done.
  body["keep_alive"] = 0;
  ASSERT_EQ(post(s(), "/api/generate", body)->status, 200);
  EXPECT_FALSE(listed());
}

TEST(OllamaPool, AtMostMaxLoadedLeastRecentlyUsedFirst) {
  auto o = RunningServer::defaults();
  o.pool.max_loaded = 1;
  RunningServer s(o);
  auto names = [&] {
    std::vector<std::string> v;
    json ps = body_of(s.client().Get("/api/ps"));
    for (const auto& m : ps["models"]) v.push_back(m["name"]);
    return v;
  };
  post(s, "/api/generate", {{"model", "tiny-chat"}});
  EXPECT_EQ(names(), std::vector<std::string>{"tiny-chat"});
  post(s, "/api/generate", {{"model", "tiny-raw"}});
  EXPECT_EQ(names(), std::vector<std::string>{"tiny-raw"});
  auto r = post(s, "/api/chat", chat_body("Hi", 3, false));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(names(), std::vector<std::string>{"tiny-chat"});
  EXPECT_GT(body_of(r)["load_duration"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace lathe::testing
