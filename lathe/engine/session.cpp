// Sampling defaults, chat template lookup and chat prompt encoding for a model folder.
#include "lathe/engine/session.h"

#include <filesystem>

#include "lathe/io/json_file.h"
#include "lathe/text/chat_template.h"

namespace lathe {

SamplerConfig sampler_defaults(const std::string& model_dir) {
  SamplerConfig c;
  c.temperature = 0;
  auto path = std::filesystem::path(model_dir) / "generation_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return c;
  nlohmann::json g = io::read_json_file(path.string(), "session");
  auto num = [&](const char* key, double fallback) {
    auto it = g.find(key);
    return it != g.end() && it->is_number() ? it->get<double>() : fallback;
  };
  auto sample = g.find("do_sample");
  if (sample != g.end() && sample->is_boolean() && sample->get<bool>()) {
    c.temperature = num("temperature", 1.0);
    c.top_k = static_cast<int>(num("top_k", 50));
    c.top_p = num("top_p", 1.0);
    c.min_p = num("min_p", 0.0);
  }
  c.repetition_penalty = num("repetition_penalty", 1.0);
  return c;
}

std::optional<std::string> chat_template_of(const std::string& model_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path d(model_dir);
  bool has = fs::exists(d / "chat_template.jinja", ec) || fs::exists(d / "chat_template.json", ec);
  if (!has && fs::exists(d / "tokenizer_config.json", ec)) {
    auto cfg = io::read_json_file((d / "tokenizer_config.json").string(), "session");
    has = cfg.contains("chat_template") && !cfg["chat_template"].is_null();
  }
  if (!has) return std::nullopt;
  return find_chat_template(model_dir);
}

std::vector<int32_t> chat_prompt_ids(const std::string& chat_template, const text::Tokenizer& tok,
                                     const nlohmann::ordered_json& messages) {
  nlohmann::ordered_json ctx;
  ctx["messages"] = messages;
  ctx["add_generation_prompt"] = true;
  const auto& st = tok.special_tokens();
  ctx["bos_token"] = st.bos_token;
  ctx["eos_token"] = st.eos_token;
  return tok.encode(render_chat_template(chat_template, ctx), false);
}

}  // namespace lathe
