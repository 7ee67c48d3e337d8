// The Ollama API: /api/generate and /api/chat (NDJSON streams by default), /api/tags,
// /api/show, /api/ps, /api/version and the health text at /, in Ollama's response shapes.
#include <httplib.h>

#include <ctime>

#include "lathe/core/error.h"
#include "lathe/engine/session.h"
#include "lathe/server/context.h"
#include "lathe/server/errors.h"
#include "lathe/server/generation.h"

namespace lathe::server {

namespace {

using ojson = nlohmann::ordered_json;

// RFC 3339 in UTC with nanoseconds, as Go's time.Time marshals.
std::string rfc3339(Clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", frac);
  return buf;
}

int64_t nanos(double seconds) { return static_cast<int64_t>(seconds * 1e9); }

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000) {
    std::snprintf(buf, sizeof(buf), "%.1fB", static_cast<double>(n) / 1e9);
  } else if (n >= 1000000) {
    std::snprintf(buf, sizeof(buf), "%.1fM", static_cast<double>(n) / 1e6);
  } else if (n >= 1000) {
    std::snprintf(buf, sizeof(buf), "%.1fK", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(n));
  }
  return buf;
}

const nlohmann::json& text_config(const nlohmann::json& config) {
  auto it = config.find("text_config");
  return it != config.end() && it->is_object() ? *it : config;
}

std::string quantization_level(const nlohmann::json& config) {
  for (const char* key : {"quantization", "quantization_config"}) {
    auto it = config.find(key);
    if (it != config.end() && it->is_object() && it->contains("bits") && (*it)["bits"].is_number())
      return "Q" + std::to_string((*it)["bits"].get<int>());
  }
  const auto& tc = text_config(config);
  for (const char* key : {"torch_dtype", "dtype"}) {
    for (const auto* c : {&config, &tc}) {
      auto it = c->find(key);
      if (it == c->end() || !it->is_string()) continue;
      std::string d = it->get<std::string>();
      if (d == "float32") return "F32";
      if (d == "bfloat16") return "BF16";
      if (d == "float16") return "F16";
      return d;
    }
  }
  return "unknown";
}

ojson details(const ModelFiles& m) {
  return {{"parent_model", ""},
          {"format", "safetensors"},
          {"family", m.model_type},
          {"families", ojson::array({m.model_type})},
          {"parameter_size", human_count(m.parameter_count)},
          {"quantization_level", quantization_level(m.config)}};
}

ojson model_info(const ModelFiles& m) {
  const auto& c = text_config(m.config);
  const std::string& a = m.model_type;
  ojson info;
  info["general.architecture"] = a;
  info["general.parameter_count"] = m.parameter_count;
  auto copy = [&](const char* from, const std::string& to) {
    auto it = c.find(from);
    if (it != c.end() && it->is_number()) info[a + "." + to] = *it;
  };
  copy("max_position_embeddings", "context_length");
  copy("hidden_size", "embedding_length");
  copy("num_hidden_layers", "block_count");
  copy("intermediate_size", "feed_forward_length");
  copy("num_attention_heads", "attention.head_count");
  copy("num_key_value_heads", "attention.head_count_kv");
  copy("rms_norm_eps", "attention.layer_norm_rms_epsilon");
  copy("vocab_size", "vocab_size");
  return info;
}

std::string model_name(const nlohmann::json& body) {
  // Older clients send "name".
  if (auto m = get_string(body, "model"); m && !m->empty()) return *m;
  if (auto n = get_string(body, "name"); n && !n->empty()) return *n;
  bad_request("'model' is required");
}

[[noreturn]] void not_supported(const std::string& what) {
  throw RequestError(501, what + " is not supported by lathe yet");
}

// Fields lathe does not implement are refused, not ignored.
void refuse_unsupported(const nlohmann::json& body) {
  if (auto it = body.find("format");
      it != body.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
    not_supported("'format' (JSON mode and structured outputs)");
  for (const char* key : {"images", "tools", "context"}) {
    auto it = body.find(key);
    if (it != body.end() && !it->is_null() && !(it->is_array() && it->empty()))
      not_supported(std::string("'") + key + "'");
  }
  for (const char* key : {"suffix", "template"}) {
    auto s = get_string(body, key);
    if (s && !s->empty()) not_supported(std::string("'") + key + "'");
  }
}

void read_options(const nlohmann::json& body, GenerationRequest& rq) {
  auto it = body.find("options");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object())
    bad_request(std::string("'options' must be an object, got ") + it->type_name());
  const auto& o = *it;
  const std::string w = "options.";
  rq.temperature = get_number(o, "temperature", w);
  rq.top_k = get_integer(o, "top_k", w);
  rq.top_p = get_number(o, "top_p", w);
  rq.min_p = get_number(o, "min_p", w);
  rq.repeat_penalty = get_number(o, "repeat_penalty", w);
  rq.presence_penalty = get_number(o, "presence_penalty", w);
  rq.frequency_penalty = get_number(o, "frequency_penalty", w);
  if (auto s = get_integer(o, "seed", w)) rq.seed = static_cast<uint64_t>(*s);
  // Ollama: -1 generates until the context is full, -2 fills it.
  if (auto n = get_integer(o, "num_predict", w); n && *n >= 0) rq.max_tokens = *n;
  rq.stop = get_strings(o, "stop", w);
  if (auto n = get_integer(o, "num_ctx", w)) {
    if (*n < 1) bad_request("'options.num_ctx' must be positive, got " + std::to_string(*n));
    rq.num_ctx = *n;
  }
}

void read_common(const nlohmann::json& body, GenerationRequest& rq) {
  rq.model = model_name(body);
  refuse_unsupported(body);
  read_options(body, rq);
  if (auto it = body.find("keep_alive"); it != body.end() && !it->is_null())
    rq.keep_alive = parse_keep_alive(*it);
}

ojson head(const std::string& model) {
  ojson j;
  j["model"] = model;
  j["created_at"] = rfc3339(Clock::now());
  return j;
}

void add_stats(ojson& j, const Outcome& o) {
  const auto& r = o.result;
  j["done_reason"] = r.finish_reason;
  j["done"] = true;
  j["total_duration"] = nanos(o.total_s);
  j["load_duration"] = nanos(o.load_s);
  j["prompt_eval_count"] = r.prompt_tokens;
  j["prompt_eval_duration"] = nanos(r.timings.prefill_s);
  j["eval_count"] = r.generated_tokens;
  j["eval_duration"] = nanos(r.timings.decode_s);
}

std::string line(const ojson& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Responder responder_for(const std::string& model, bool chat) {
  Responder r;
  r.stream_content_type = "application/x-ndjson";
  auto message = [](std::string_view text) {
    return ojson{{"role", "assistant"}, {"content", std::string(text)}};
  };
  r.piece = [model, chat, message](std::string_view text) {
    ojson j = head(model);
    if (chat) {
      j["message"] = message(text);
    } else {
      j["response"] = std::string(text);
    }
    j["done"] = false;
    return line(j);
  };
  auto final_object = [model, chat, message](const Outcome& o, bool whole) {
    ojson j = head(model);
    const std::string text = whole ? o.result.text : "";
    if (chat) {
      j["message"] = message(text);
    } else {
      j["response"] = text;
    }
    add_stats(j, o);
    if (!chat) {
      std::vector<int32_t> context = o.prompt_ids;
      context.insert(context.end(), o.result.ids.begin(), o.result.ids.end());
      j["context"] = context;
    }
    return j;
  };
  r.stream_end = [final_object](const Outcome& o) { return line(final_object(o, false)); };
  r.stream_error = [](const std::string& msg) { return line(ojson{{"error", msg}}); };
  r.whole = [final_object](const Outcome& o) { return final_object(o, true); };
  return r;
}

// An empty prompt (or no messages) loads the model, or with keep_alive 0 unloads it.
bool load_or_unload(Context& ctx, httplib::Response& res, const GenerationRequest& rq, bool chat) {
  if (!ctx.pool.find(rq.model)) throw RequestError(404, "model '" + rq.model + "' not found");
  std::string reason;
  if (rq.keep_alive && !rq.keep_alive->forever && rq.keep_alive->duration.count() == 0) {
    ctx.pool.unload(rq.model);
    reason = "unload";
  } else {
    try {
      ctx.pool.acquire(rq.model, rq.keep_alive);
    } catch (const Error& e) {
      throw RequestError(500, "model '" + rq.model + "' could not be loaded: " + e.what());
    }
    reason = "load";
  }
  ojson j = head(rq.model);
  if (chat) {
    j["message"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    j["response"] = "";
  }
  j["done_reason"] = reason;
  j["done"] = true;
  res.set_content(j.dump(), "application/json; charset=utf-8");
  return true;
}

void generate(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req);
  GenerationRequest rq;
  read_common(body, rq);
  auto prompt = get_string(body, "prompt");
  rq.system = get_string(body, "system");
  const bool raw = get_bool(body, "raw").value_or(false);
  const bool stream = get_bool(body, "stream").value_or(true);
  if (!prompt || prompt->empty()) {
    load_or_unload(ctx, res, rq, false);
    return;
  }
  if (raw && rq.system) bad_request("'system' needs the chat template; it cannot go with 'raw'");
  rq.prompt = *prompt;
  // Like Ollama: the model's template wraps the prompt unless raw; lathe falls back to the raw
  // prompt for folders without a template.
  rq.templated = !raw;
  serve_generation(ctx, req, res, std::move(rq), stream, responder_for(model_name(body), false));
}

ojson read_messages(const nlohmann::json& list) {
  if (!list.is_array())
    bad_request(std::string("'messages' must be a list, got ") + list.type_name());
  ojson out = ojson::array();
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& m = list[i];
    const std::string where = "messages[" + std::to_string(i) + "].";
    if (!m.is_object())
      bad_request("'" + where.substr(0, where.size() - 1) + "' must be an object, got " +
                  m.type_name());
    std::string role = require_string(m, "role", where);
    auto images = m.find("images");
    if (images != m.end() && !images->is_null() && !(images->is_array() && images->empty()))
      not_supported("'" + where + "images'");
    out.push_back({{"role", role}, {"content", get_string(m, "content", where).value_or("")}});
  }
  return out;
}

void chat(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req);
  GenerationRequest rq;
  read_common(body, rq);
  const bool stream = get_bool(body, "stream").value_or(true);
  auto it = body.find("messages");
  ojson messages = it == body.end() || it->is_null() ? ojson::array() : read_messages(*it);
  if (messages.empty()) {
    load_or_unload(ctx, res, rq, true);
    return;
  }
  rq.messages = std::move(messages);
  serve_generation(ctx, req, res, std::move(rq), stream, responder_for(model_name(body), true));
}

void tags(Context& ctx, httplib::Response& res) {
  ojson models = ojson::array();
  for (const auto& m : ctx.pool.list()) {
    models.push_back({{"name", m.name},
                      {"model", m.name},
                      {"modified_at", rfc3339(m.modified)},
                      {"size", m.size_bytes},
                      {"digest", m.digest},
                      {"details", details(m)}});
  }
  res.set_content(ojson{{"models", models}}.dump(), "application/json; charset=utf-8");
}

void show(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req);
  std::string name = model_name(body);
  auto m = ctx.pool.find(name, true);
  if (!m) throw RequestError(404, "model '" + name + "' not found");
  std::string tmpl;
  try {
    tmpl = chat_template_of(m->dir).value_or("");
  } catch (const Error&) {
    tmpl = "";  // a malformed tokenizer_config.json shows as no template
  }
  ojson j;
  j["license"] = "";
  j["modelfile"] = "";
  j["parameters"] = "";
  j["template"] = tmpl;
  j["details"] = details(*m);
  j["model_info"] = model_info(*m);
  j["capabilities"] = ojson::array({"completion"});
  j["modified_at"] = rfc3339(m->modified);
  res.set_content(j.dump(), "application/json; charset=utf-8");
}

void ps(Context& ctx, httplib::Response& res) {
  ojson models = ojson::array();
  for (const auto& r : ctx.pool.running()) {
    // In use or kept forever: no expiry; Ollama reports a far date then.
    auto expires = r.expires_at.value_or(Clock::now() + std::chrono::hours(24 * 365 * 100));
    models.push_back({{"name", r.files.name},
                      {"model", r.files.name},
                      {"size", r.weight_bytes},
                      {"digest", r.files.digest},
                      {"details", details(r.files)},
                      {"expires_at", rfc3339(expires)},
                      {"size_vram", 0}});
  }
  res.set_content(ojson{{"models", models}}.dump(), "application/json; charset=utf-8");
}

}  // namespace

void add_ollama_routes(httplib::Server& http, Context& ctx) {
  auto health = [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Ollama is running", "text/plain; charset=utf-8");
  };
  http.Get("/", health);
  http.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ojson{{"version", kLatheVersion}}.dump(), "application/json; charset=utf-8");
  });
  http.Get("/api/tags",
           [&ctx](const httplib::Request&, httplib::Response& res) { tags(ctx, res); });
  http.Get("/api/ps", [&ctx](const httplib::Request&, httplib::Response& res) { ps(ctx, res); });
  http.Post("/api/show",
            [&ctx](const httplib::Request& req, httplib::Response& res) { show(ctx, req, res); });
  http.Post("/api/generate", [&ctx](const httplib::Request& req, httplib::Response& res) {
    generate(ctx, req, res);
  });
  http.Post("/api/chat",
            [&ctx](const httplib::Request& req, httplib::Response& res) { chat(ctx, req, res); });
  // Model management belongs to the folder under --models, not to the API.
  for (const char* path :
       {"/api/pull", "/api/push", "/api/create", "/api/copy", "/api/embed", "/api/embeddings"}) {
    http.Post(path, [path](const httplib::Request&, httplib::Response&) {
      throw RequestError(501, std::string(path) +
                                  " is not supported by lathe (models are the folders under "
                                  "--models)");
    });
  }
  http.Delete("/api/delete", [](const httplib::Request&, httplib::Response&) {
    throw RequestError(501,
                       "/api/delete is not supported by lathe (models are the folders "
                       "under --models)");
  });
}

}  // namespace lathe::server
