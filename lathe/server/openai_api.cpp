// The OpenAI API: /v1/chat/completions and /v1/completions (SSE streams ending in
// "data: [DONE]", or whole answers with usage) and /v1/models, in OpenAI's response shapes.
#include <httplib.h>

#include <atomic>
#include <ctime>
#include <random>

#include "lathe/server/context.h"
#include "lathe/server/errors.h"
#include "lathe/server/generation.h"

namespace lathe::server {

namespace {

using ojson = nlohmann::ordered_json;

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s%016llx%08llx", prefix,
                static_cast<unsigned long long>(salt ^ static_cast<uint64_t>(std::time(nullptr))),
                static_cast<unsigned long long>(++counter));
  return buf;
}

std::string sse(const ojson& j) {
  return "data: " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

ojson usage(const Outcome& o) {
  const auto& r = o.result;
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.generated_tokens},
          {"total_tokens", r.prompt_tokens + r.generated_tokens}};
}

// Sampling fields shared by both endpoints; what lathe does not do is refused.
void read_sampling(const nlohmann::json& body, GenerationRequest& rq) {
  rq.model = require_string(body, "model");
  rq.temperature = get_number(body, "temperature");
  if (rq.temperature && (*rq.temperature < 0 || *rq.temperature > 2))
    bad_request("'temperature' must be between 0 and 2, got " + std::to_string(*rq.temperature));
  rq.top_p = get_number(body, "top_p");
  rq.presence_penalty = get_number(body, "presence_penalty");
  rq.frequency_penalty = get_number(body, "frequency_penalty");
  if (auto s = get_integer(body, "seed")) rq.seed = static_cast<uint64_t>(*s);
  auto max_tokens = get_integer(body, "max_tokens");
  if (auto m = get_integer(body, "max_completion_tokens")) max_tokens = m;
  if (max_tokens) {
    if (*max_tokens < 0)
      bad_request("'max_tokens' must be at least 0, got " + std::to_string(*max_tokens));
    rq.max_tokens = *max_tokens;
  }
  rq.stop = get_strings(body, "stop");
  if (rq.stop.size() > 4) bad_request("'stop' holds at most 4 sequences");
  if (auto n = get_integer(body, "n"); n && *n != 1)
    bad_request("'n' must be 1 (lathe returns one choice), got " + std::to_string(*n));
  if (get_bool(body, "logprobs").value_or(false)) bad_request("'logprobs' is not supported yet");
  if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad_request("'response_format' must be an object");
    auto type = get_string(*it, "type", "response_format.");
    if (type && *type != "text")
      bad_request("'response_format' type '" + *type + "' is not supported yet (only 'text')");
  }
  for (const char* key : {"tools", "functions"}) {
    auto it = body.find(key);
    if (it != body.end() && !it->is_null() && !(it->is_array() && it->empty()))
      bad_request(std::string("'") + key + "' is not supported yet");
  }
}

bool include_usage(const nlohmann::json& body) {
  auto it = body.find("stream_options");
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_object()) bad_request("'stream_options' must be an object");
  return get_bool(*it, "include_usage", "stream_options.").value_or(false);
}

std::string content_text(const nlohmann::json& content, const std::string& where) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad_request("'" + where + "' must be a string or a list of parts");
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object()) bad_request("'" + where + "[]' must be an object");
    auto type = get_string(part, "type", where + "[].");
    if (type != "text")
      bad_request("'" + where + "' part type '" + type.value_or("") +
                  "' is not supported yet (only 'text')");
    text += require_string(part, "text", where + "[].");
  }
  return text;
}

ojson read_messages(const nlohmann::json& body) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) bad_request("'messages' is required");
  if (!it->is_array())
    bad_request(std::string("'messages' must be a list, got ") + it->type_name());
  if (it->empty()) bad_request("'messages' is empty");
  ojson out = ojson::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& m = (*it)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_request("'" + where + "' must be an object");
    std::string role = require_string(m, "role", where + ".");
    auto c = m.find("content");
    out.push_back(
        {{"role", role},
         {"content", content_text(c == m.end() ? nlohmann::json() : *c, where + ".content")}});
  }
  return out;
}

struct StreamState {
  bool role_sent = false;
};

Responder chat_responder(const std::string& model, bool with_usage) {
  const std::string id = new_id("chatcmpl-");
  const int64_t created = std::time(nullptr);
  auto chunk = [id, created, model, with_usage](ojson delta, const char* finish) {
    ojson j;
    j["id"] = id;
    j["object"] = "chat.completion.chunk";
    j["created"] = created;
    j["model"] = model;
    ojson choice;
    choice["index"] = 0;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish ? ojson(finish) : ojson(nullptr);
    j["choices"] = ojson::array({choice});
    if (with_usage) j["usage"] = nullptr;
    return j;
  };
  auto state = std::make_shared<StreamState>();
  auto role = [state, chunk]() -> std::string {
    if (state->role_sent) return "";
    state->role_sent = true;
    return sse(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  };
  Responder r;
  r.stream_content_type = "text/event-stream";
  r.piece = [role, chunk](std::string_view text) {
    return role() + sse(chunk({{"content", std::string(text)}}, nullptr));
  };
  r.stream_end = [role, chunk, id, created, model, with_usage](const Outcome& o) {
    std::string out = role() + sse(chunk(ojson::object(), o.result.finish_reason.c_str()));
    if (with_usage) {
      ojson j;
      j["id"] = id;
      j["object"] = "chat.completion.chunk";
      j["created"] = created;
      j["model"] = model;
      j["choices"] = ojson::array();
      j["usage"] = usage(o);
      out += sse(j);
    }
    return out + "data: [DONE]\n\n";
  };
  r.stream_error = [](const std::string& msg) {
    return sse(ojson{{"error", {{"message", msg}, {"type", "server_error"}}}});
  };
  r.whole = [id, created, model](const Outcome& o) {
    ojson j;
    j["id"] = id;
    j["object"] = "chat.completion";
    j["created"] = created;
    j["model"] = model;
    ojson choice;
    choice["index"] = 0;
    choice["message"] = {{"role", "assistant"}, {"content", o.result.text}};
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = o.result.finish_reason;
    j["choices"] = ojson::array({choice});
    j["usage"] = usage(o);
    return j;
  };
  return r;
}

Responder completion_responder(const std::string& model, bool with_usage) {
  const std::string id = new_id("cmpl-");
  const int64_t created = std::time(nullptr);
  auto object = [id, created, model](ojson choices) {
    ojson j;
    j["id"] = id;
    j["object"] = "text_completion";
    j["created"] = created;
    j["model"] = model;
    j["choices"] = std::move(choices);
    return j;
  };
  auto choice = [](const std::string& text, const char* finish) {
    ojson c;
    c["text"] = text;
    c["index"] = 0;
    c["logprobs"] = nullptr;
    c["finish_reason"] = finish ? ojson(finish) : ojson(nullptr);
    return c;
  };
  Responder r;
  r.stream_content_type = "text/event-stream";
  r.piece = [object, choice, with_usage](std::string_view text) {
    ojson j = object(ojson::array({choice(std::string(text), nullptr)}));
    if (with_usage) j["usage"] = nullptr;
    return sse(j);
  };
  r.stream_end = [object, choice, with_usage](const Outcome& o) {
    ojson j = object(ojson::array({choice("", o.result.finish_reason.c_str())}));
    if (with_usage) j["usage"] = nullptr;
    std::string out = sse(j);
    if (with_usage) {
      ojson u = object(ojson::array());
      u["usage"] = usage(o);
      out += sse(u);
    }
    return out + "data: [DONE]\n\n";
  };
  r.stream_error = [](const std::string& msg) {
    return sse(ojson{{"error", {{"message", msg}, {"type", "server_error"}}}});
  };
  r.whole = [object, choice](const Outcome& o) {
    ojson j = object(ojson::array({choice(o.result.text, o.result.finish_reason.c_str())}));
    j["usage"] = usage(o);
    return j;
  };
  return r;
}

void chat_completions(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req);
  GenerationRequest rq;
  read_sampling(body, rq);
  rq.messages = read_messages(body);
  const bool stream = get_bool(body, "stream").value_or(false);
  const bool with_usage = include_usage(body) && stream;
  std::string model = rq.model;
  serve_generation(ctx, req, res, std::move(rq), stream, chat_responder(model, with_usage));
}

void completions(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req);
  GenerationRequest rq;
  read_sampling(body, rq);
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) bad_request("'prompt' is required");
  if (it->is_array()) {
    if (it->size() != 1 || !(*it)[0].is_string())
      bad_request("'prompt' must be a string (or a list of one string)");
    rq.prompt = (*it)[0].get<std::string>();
  } else if (it->is_string()) {
    rq.prompt = it->get<std::string>();
  } else {
    bad_request(std::string("'prompt' must be a string, got ") + it->type_name());
  }
  if (rq.prompt.empty()) bad_request("'prompt' is empty");
  if (get_bool(body, "echo").value_or(false)) bad_request("'echo' is not supported yet");
  if (auto s = get_string(body, "suffix"); s && !s->empty())
    bad_request("'suffix' is not supported yet");
  if (auto b = get_integer(body, "best_of"); b && *b != 1)
    bad_request("'best_of' must be 1 (lathe returns one choice)");
  // The legacy endpoint's documented default.
  if (!rq.max_tokens) rq.max_tokens = 16;
  const bool stream = get_bool(body, "stream").value_or(false);
  const bool with_usage = include_usage(body) && stream;
  std::string model = rq.model;
  serve_generation(ctx, req, res, std::move(rq), stream, completion_responder(model, with_usage));
}

ojson model_object(const ModelFiles& m) {
  return {{"id", m.name},
          {"object", "model"},
          {"created",
           std::chrono::duration_cast<std::chrono::seconds>(m.modified.time_since_epoch()).count()},
          {"owned_by", "lathe"}};
}

}  // namespace

void add_openai_routes(httplib::Server& http, Context& ctx) {
  http.Post("/v1/chat/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    chat_completions(ctx, req, res);
  });
  http.Post("/v1/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    completions(ctx, req, res);
  });
  http.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    ojson data = ojson::array();
    for (const auto& m : ctx.pool.list()) data.push_back(model_object(m));
    res.set_content(ojson{{"object", "list"}, {"data", data}}.dump(),
                    "application/json; charset=utf-8");
  });
  http.Get(R"(/v1/models/([^/]+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    auto m = ctx.pool.find(name, true);
    if (!m) throw RequestError(404, "model '" + name + "' not found");
    res.set_content(model_object(*m).dump(), "application/json; charset=utf-8");
  });
}

}  // namespace lathe::server
