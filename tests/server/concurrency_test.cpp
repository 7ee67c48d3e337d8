// Many clients at once: every answer is the one that client gets alone (no mixed streams), no
// request fails, memory stays flat; and a client that disconnects cancels its generation,
// running or queued.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>

#include "server/server_fixture.h"

namespace lathe::testing {
namespace {

// AddressSanitizer keeps freed memory in quarantine, so the resident set only
// means something in normal builds; active_memory() is checked in both.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kRssGrowthLimitMib = 1e9;
#else
constexpr double kRssGrowthLimitMib = 8.0;
#endif

json stats(const RunningServer& s) { return body_of(s.client().Get("/lathe/stats")); }

std::string prompt_of(int client) {
  static const char* words[] = {"apple",  "river",  "stone",  "cloud",  "tiger",  "piano",
                                "ocean",  "lemon",  "forest", "candle", "rocket", "violin",
                                "desert", "garden", "silver", "winter"};
  return std::string(words[client % 16]) + " " + words[(client * 7 + 3) % 16] + "?";
}

// One request of kind k for `client`; returns the answer's text ("" and a failure message on
// any error).
std::string ask(const RunningServer& s, int client, int kind, int max_tokens, std::string& err) {
  json msgs = {{{"role", "user"}, {"content", prompt_of(client)}}};
  httplib::Result r = [&] {
    switch (kind) {
      case 0:
        return post(s, "/api/chat",
                    {{"model", "tiny-chat"},
                     {"messages", msgs},
                     {"stream", false},
                     {"options", {{"num_predict", max_tokens}}}});
      case 1:
        return post(s, "/api/generate",
                    {{"model", "tiny-chat"},
                     {"prompt", prompt_of(client)},
                     {"options", {{"num_predict", max_tokens}}}});
      case 2:
        return post(s, "/v1/chat/completions",
                    {{"model", "tiny-chat"},
                     {"messages", msgs},
                     {"max_tokens", max_tokens},
                     {"stream", true}});
      default:
        return post(s, "/v1/chat/completions",
                    {{"model", "tiny-chat"}, {"messages", msgs}, {"max_tokens", max_tokens}});
    }
  }();
  if (!r || r->status != 200) {
    err = r ? r->body : "no response (" + httplib::to_string(r.error()) + ")";
    return "";
  }
  std::string text;
  if (kind == 0) return body_of(r)["message"]["content"];
  if (kind == 3) return body_of(r)["choices"][0]["message"]["content"];
  if (kind == 1) {
    auto lines = ndjson_lines(r->body);
    for (const auto& l : lines) text += l["response"].get<std::string>();
    if (lines.back()["eval_count"] != max_tokens) err = "eval_count " + lines.back().dump();
    return text;
  }
  auto events = sse_data(r->body);
  if (events.back() != "[DONE]") err = "no [DONE]";
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto e = json::parse(events[i]);
    if (e["choices"][0]["delta"].contains("content"))
      text += e["choices"][0]["delta"]["content"].get<std::string>();
  }
  return text;
}

TEST(Concurrency, SixteenClientsTwentyRequestsEachNoMixingFlatMemory) {
  RunningServer s;
  constexpr int kClients = 16, kRequests = 20, kTokens = 6;
  std::vector<std::string> expected(kClients);
  std::string err;
  for (int c = 0; c < kClients; ++c) {
    expected[c] = ask(s, c, 0, kTokens, err);
    ASSERT_TRUE(err.empty()) << err;
  }
  // Answers differ between clients, so a mixed stream would show.
  std::set<std::string> distinct(expected.begin(), expected.end());
  EXPECT_GE(distinct.size(), 12u);

  std::atomic<int> failures{0}, mismatches{0};
  std::mutex mu;
  std::string first_problem;
  auto storm = [&](int requests) {
    std::vector<std::thread> threads;
    for (int c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        for (int i = 0; i < requests; ++i) {
          std::string e;
          std::string text = ask(s, c, (c + i) % 4, kTokens, e);
          if (!e.empty() || text != expected[c]) {
            (e.empty() ? mismatches : failures) += 1;
            std::lock_guard lk(mu);
            if (first_problem.empty())
              first_problem = "client " + std::to_string(c) + " kind " +
                              std::to_string((c + i) % 4) + ": " +
                              (e.empty() ? "'" + text + "' vs '" + expected[c] + "'" : e);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  storm(2);  // every HTTP and worker thread has run once
  json before = stats(s);
  storm(kRequests);
  json after = stats(s);
  // A worker counts itself idle just after its answer went out.
  for (int i = 0; i < 100 && after["busy"] != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    after = stats(s);
  }
  EXPECT_EQ(failures.load(), 0) << first_problem;
  EXPECT_EQ(mismatches.load(), 0) << first_problem;
  EXPECT_EQ(after["generations"].get<int>() - before["generations"].get<int>(),
            kClients * kRequests);
  EXPECT_EQ(after["active_memory"], before["active_memory"]);
  const double grown_mib =
      (after["resident_bytes"].get<double>() - before["resident_bytes"].get<double>()) / (1 << 20);
  EXPECT_LT(grown_mib, kRssGrowthLimitMib) << "resident set grew by " << grown_mib << " MiB";
  EXPECT_EQ(after["busy"], 0);
  EXPECT_EQ(after["queued"], 0);
}

// The bound: memory is flat across 1,000 requests (both APIs, streamed and not).
TEST(Concurrency, MemoryIsFlatAcrossAThousandRequests) {
  RunningServer s;
  std::string err;
  for (int i = 0; i < 8; ++i) ask(s, i, i % 4, 2, err);  // warm-up: every code path once
  ASSERT_TRUE(err.empty()) << err;
  json before = stats(s);
  int failures = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string e;
    ask(s, i % 16, i % 4, 2, e);
    if (!e.empty() && ++failures == 1) err = e;
  }
  json after = stats(s);
  for (int i = 0; i < 100 && after["busy"] != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    after = stats(s);
  }
  EXPECT_EQ(failures, 0) << err;
  EXPECT_EQ(after["generations"].get<int>() - before["generations"].get<int>(), 1000);
  EXPECT_EQ(after["active_memory"], before["active_memory"]);
  const double grown_mib =
      (after["resident_bytes"].get<double>() - before["resident_bytes"].get<double>()) / (1 << 20);
  EXPECT_LT(grown_mib, kRssGrowthLimitMib)
      << "resident set grew by " << grown_mib << " MiB over 1,000 requests";
}

// A raw connection, to hang up mid-answer.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawClient() { hang_up(); }
  bool connected() const { return connected_; }
  void send_post(const std::string& path, const std::string& body) {
    std::string req = "POST " + path +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(write(fd_, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  }
  // Reads until `needle` has arrived.
  bool read_until(const std::string& needle) {
    char buf[4096];
    while (got_.find(needle) == std::string::npos) {
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      got_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  void hang_up() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string got_;
};

json long_chat(const std::string& content) {
  // No num_predict: up to the model's 512 positions (~490 tokens).
  return {{"model", "tiny-chat"}, {"messages", {{{"role", "user"}, {"content", content}}}}};
}

void wait_for_generations(const RunningServer& s, int n) {
  for (int i = 0; i < 500 && stats(s)["generations"].get<int>() < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

TEST(Disconnect, HangingUpMidStreamCancelsTheGeneration) {
  RunningServer s;
  std::string err;
  ask(s, 0, 0, 1, err);  // loads the model
  json before = stats(s);
  for (const char* path : {"/api/chat", "/v1/chat/completions"}) {
    RawClient c(s.port());
    ASSERT_TRUE(c.connected());
    json body = long_chat("Tell me everything");
    body["stream"] = true;
    c.send_post(path, body.dump());
    ASSERT_TRUE(c.read_until(path[1] == 'a' ? "\"done\":false" : "\"content\""));
    c.hang_up();
  }
  wait_for_generations(s, before["generations"].get<int>() + 2);
  json after = stats(s);
  EXPECT_EQ(after["cancelled"].get<int>() - before["cancelled"].get<int>(), 2);
  // Two uncancelled answers would be ~980 tokens.
  const int tokens = after["generated_tokens"].get<int>() - before["generated_tokens"].get<int>();
  EXPECT_LT(tokens, 250) << "generated after the clients left";
  // Not streaming: a client that gives up waiting cancels too.
  RawClient w(s.port());
  w.send_post("/api/chat", [] {
    json b = long_chat("Wait for it");
    b["stream"] = false;
    return b.dump();
  }());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  w.hang_up();
  // Cancelled while running, or before it started: either way it ends early.
  json now = stats(s);
  for (int i = 0; i < 100 && (i < 10 || now["busy"] != 0 || now["queued"] != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    now = stats(s);
  }
  EXPECT_EQ(now["busy"], 0);
  EXPECT_LT(now["generated_tokens"].get<int>() - after["generated_tokens"].get<int>(), 250);
  // And the next request is served normally.
  EXPECT_FALSE(ask(s, 1, 2, 4, err).empty());
  EXPECT_TRUE(err.empty()) << err;
}

TEST(Disconnect, AQueuedRequestWhoseClientLeftNeverRuns) {
  auto o = RunningServer::defaults();
  o.parallel = 1;
  RunningServer s(o);
  std::string err;
  ask(s, 0, 0, 1, err);
  const int before = stats(s)["generations"].get<int>();
  RawClient running(s.port()), queued(s.port());
  json body = long_chat("First");
  body["stream"] = true;
  running.send_post("/api/chat", body.dump());
  ASSERT_TRUE(running.read_until("\"done\":false"));
  queued.send_post("/api/chat", long_chat("Second").dump());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  queued.hang_up();
  std::this_thread::sleep_for(std::chrono::milliseconds(120));  // the handler's poll sees it
  ASSERT_TRUE(running.read_until("\"done\":true"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(stats(s)["generations"].get<int>() - before, 1);
}

}  // namespace
}  // namespace lathe::testing
