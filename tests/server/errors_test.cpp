// Every bad request gets a 4xx (501 for what lathe does not do yet) with a JSON error body in
// its API's style, and the server goes on serving.
#include <gtest/gtest.h>

#include "server/server_fixture.h"

namespace lathe::testing {
namespace {

class Errors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto o = RunningServer::defaults();
    o.max_body_bytes = 1 << 20;
    server_ = new RunningServer(o);
  }
  static void TearDownTestSuite() { delete server_; }
  static RunningServer* server_;
  const RunningServer& s() { return *server_; }

  // The status and the error message; the body must be the API's JSON error.
  std::pair<int, std::string> error_of(const httplib::Result& r, const std::string& path) {
    EXPECT_TRUE(r) << path;
    if (!r) return {0, ""};
    EXPECT_EQ(r->get_header_value("Content-Type").rfind("application/json", 0), 0u) << path;
    json j = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << path << ": " << r->body;
    if (!j.is_object() || !j.contains("error")) return {r->status, ""};
    if (path.rfind("/v1/", 0) == 0) {
      EXPECT_TRUE(j["error"].is_object()) << r->body;
      EXPECT_TRUE(j["error"]["type"].is_string()) << r->body;
      return {r->status, j["error"]["message"].get<std::string>()};
    }
    EXPECT_TRUE(j["error"].is_string()) << r->body;
    return {r->status, j["error"].get<std::string>()};
  }
  void expect(const std::string& path, const std::string& body, int status,
              const std::string& mentions) {
    auto r = s().client().Post(path, body, "application/json");
    auto [st, msg] = error_of(r, path);
    EXPECT_EQ(st, status) << path << " " << body << " -> " << msg;
    EXPECT_NE(msg.find(mentions), std::string::npos) << path << " " << body << " -> " << msg;
  }
};
RunningServer* Errors::server_ = nullptr;

const char* kChatPaths[] = {"/api/chat", "/v1/chat/completions"};

TEST_F(Errors, MalformedOrNonObjectBodies) {
  for (const char* p :
       {"/api/chat", "/api/generate", "/api/show", "/v1/chat/completions", "/v1/completions"}) {
    expect(p, "{\"model\": \"tiny-chat\", ", 400, "not valid JSON");
    expect(p, "[1, 2]", 400, "must be a JSON object");
    expect(p, "", 400, "empty");
  }
}

TEST_F(Errors, UnknownModelIs404) {
  expect("/api/chat", R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})", 404,
         "'nope' not found");
  expect("/api/generate", R"({"model":"nope","prompt":"hi"})", 404, "not found");
  expect("/api/generate", R"({"model":"nope"})", 404, "not found");
  expect("/api/show", R"({"model":"nope"})", 404, "not found");
  expect("/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})",
         404, "not found");
  expect("/v1/completions", R"({"model":"nope","prompt":"hi"})", 404, "not found");
  expect("/api/chat", R"({"model":"../tiny-chat","messages":[{"role":"user","content":"hi"}]})",
         404, "not found");
  auto r = s().client().Get("/v1/models/nope");
  EXPECT_EQ(error_of(r, "/v1/models/nope").first, 404);
}

TEST_F(Errors, MissingAndIllTypedFields) {
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  for (const char* p : kChatPaths) {
    expect(p, "{" + msgs + "}", 400, "'model' is required");
    expect(p, R"({"model": 3, )" + msgs + "}", 400, "'model' must be a string");
    expect(p, R"({"model":"tiny-chat","messages":"hi"})", 400, "'messages' must be a list");
    expect(p, R"({"model":"tiny-chat","messages":[3]})", 400, "messages[0]");
    expect(p, R"({"model":"tiny-chat","messages":[{"content":"hi"}]})", 400, "messages[0].role");
    expect(p, R"({"model":"tiny-chat","messages":[{"role":"user","content":5}]})", 400, "content");
    expect(p, R"({"model":"tiny-chat","stream":"yes",)" + msgs + "}", 400,
           "'stream' must be a boolean");
  }
  expect("/v1/chat/completions", R"({"model":"tiny-chat"})", 400, "'messages' is required");
  expect("/v1/chat/completions", R"({"model":"tiny-chat","messages":[]})", 400, "empty");
  const std::string o = R"({"model":"tiny-chat",)" + msgs + R"(,"options":)";
  expect("/api/chat", o + R"({"temperature":"hot"}})", 400,
         "'options.temperature' must be a number");
  expect("/api/chat", o + R"({"top_k":1.5}})", 400, "'options.top_k' must be an integer");
  expect("/api/chat", o + R"({"stop":[1]}})", 400, "options.stop");
  expect("/api/chat", o + R"({"num_ctx":0}})", 400, "num_ctx");
  expect("/api/chat", o + R"({"temperature":-1}})", 400, "temperature");
  expect("/api/chat", o + R"({"top_p":2}})", 400, "top_p");
  expect("/api/chat", o + "[1]}", 400, "'options' must be an object");
  expect("/api/chat", R"({"model":"tiny-chat",)" + msgs + R"(,"keep_alive":"soon"})", 400,
         "keep_alive");
  expect("/api/generate", R"({"model":"tiny-chat","prompt":7})", 400, "'prompt' must be a string");
  const std::string v = R"({"model":"tiny-chat",)" + msgs;
  expect("/v1/chat/completions", v + R"(,"temperature":3})", 400, "temperature");
  expect("/v1/chat/completions", v + R"(,"max_tokens":"many"})", 400, "max_tokens");
  expect("/v1/chat/completions", v + R"(,"max_tokens":-2})", 400, "max_tokens");
  expect("/v1/chat/completions", v + R"(,"stop":["a","b","c","d","e"]})", 400, "stop");
  expect("/v1/chat/completions", v + R"(,"n":2})", 400, "'n'");
  expect("/v1/chat/completions", v + R"(,"stream_options":true})", 400, "stream_options");
  expect("/v1/completions", R"({"model":"tiny-chat"})", 400, "'prompt' is required");
  expect("/v1/completions", R"({"model":"tiny-chat","prompt":[1,2]})", 400, "prompt");
}

TEST_F(Errors, UnsupportedFeaturesAreRefusedHonestly) {
  const std::string c = R"({"model":"tiny-chat","messages":[{"role":"user","content":"hi"}])";
  expect("/api/chat", c + R"(,"format":"json"})", 501, "not supported");
  expect("/api/generate", R"({"model":"tiny-chat","prompt":"hi","format":{"type":"object"}})", 501,
         "format");
  expect("/api/generate", R"({"model":"tiny-chat","prompt":"hi","images":["aGk="]})", 501,
         "images");
  expect("/api/chat", c + R"(,"tools":[{"type":"function"}]})", 501, "tools");
  expect("/v1/chat/completions", c + R"(,"response_format":{"type":"json_object"}})", 400,
         "not supported");
  expect("/v1/chat/completions", c + R"(,"tools":[{"type":"function"}]})", 400, "not supported");
  expect("/api/pull", R"({"model":"llama3"})", 501, "not supported");
}

TEST_F(Errors, ModelsThatCannotServeText) {
  expect("/api/chat", R"({"model":"tiny-raw","messages":[{"role":"user","content":"hi"}]})", 400,
         "no chat template");
  expect("/api/chat", R"({"model":"no-tokenizer","messages":[{"role":"user","content":"hi"}]})",
         400, "no tokenizer");
  // Without a template, generate sends the prompt raw.
  auto r = post(s(), "/api/generate",
                {{"model", "tiny-raw"},
                 {"prompt", "hi"},
                 {"stream", false},
                 {"options", {{"num_predict", 2}}}});
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(Errors, PromptsLongerThanTheContext) {
  std::string words;
  for (int i = 0; i < 40; ++i) words += "fox jumps ";
  json chat = {{"model", "tiny-chat"},
               {"messages", {{{"role", "user"}, {"content", words}}}},
               {"stream", false},
               {"options", {{"num_ctx", 16}}}};
  expect("/api/chat", chat.dump(), 400, "longer than the context of 16");
  // Past the model's own 512 positions even with a larger num_ctx.
  std::string longer;
  for (int i = 0; i < 300; ++i) longer += "fox jumps ";
  chat["messages"][0]["content"] = longer;
  chat["options"]["num_ctx"] = 100000;
  expect("/api/chat", chat.dump(), 400, "longer than the context of 512");
  json v = {{"model", "tiny-chat"}, {"messages", {{{"role", "user"}, {"content", longer}}}}};
  expect("/v1/chat/completions", v.dump(), 400, "context");
  // Streaming requests fail before the stream starts: a status, not a broken stream.
  chat["stream"] = true;
  expect("/api/chat", chat.dump(), 400, "context");
}

TEST_F(Errors, OversizeBodiesAndUnknownRoutes) {
  std::string big = R"({"model":"tiny-chat","prompt":")" + std::string(2 << 20, 'a') + "\"}";
  auto r = s().client().Post("/api/generate", big, "application/json");
  ASSERT_TRUE(r) << "no answer to an oversize body";
  EXPECT_EQ(error_of(r, "/api/generate").first, 413);
  auto nf = s().client().Get("/api/nothing");
  EXPECT_EQ(error_of(nf, "/api/nothing").first, 404);
  auto nf2 = s().client().Get("/v1/nothing");
  EXPECT_EQ(error_of(nf2, "/v1/nothing").first, 404);
}

TEST_F(Errors, TheServerKeepsServingAfterBadRequests) {
  for (int i = 0; i < 20; ++i) s().client().Post("/api/chat", "{bad", "application/json");
  auto r = post(s(), "/api/chat",
                {{"model", "tiny-chat"},
                 {"messages", {{{"role", "user"}, {"content", "still there?"}}}},
                 {"stream", false},
                 {"options", {{"num_predict", 3}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["eval_count"], 3);
}

}  // namespace
}  // namespace lathe::testing
