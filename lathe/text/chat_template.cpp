// The chat-template facade over the Jinja engine: JSON context in, rendered prompt out,
// plus locating a model's template the way transformers loads it.
#include "lathe/text/chat_template.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lathe/core/error.h"
#include "lathe/text/jinja/interpreter.h"
#include "lathe/text/jinja/parser.h"

namespace lathe {

namespace {

jinja::Value from_json(const nlohmann::ordered_json& j, int depth = 0) {
  if (depth > 512) throw Error("[render_chat_template] context nested too deeply");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return jinja::Value::none();
    case nlohmann::ordered_json::value_t::boolean: return jinja::Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return jinja::Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return jinja::Value(static_cast<double>(u));
      return jinja::Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return jinja::Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return jinja::Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      jinja::ValueList items;
      for (const auto& x : j) items.push_back(from_json(x, depth + 1));
      return jinja::Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      jinja::Value d = jinja::Value::dict();
      for (auto it = j.begin(); it != j.end(); ++it) {
        d.entries().items.emplace_back(jinja::Value(it.key()), from_json(it.value(), depth + 1));
      }
      return d;
    }
    default: throw Error("[render_chat_template] unsupported JSON value in the context");
  }
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("[find_chat_template] cannot read " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::string render_chat_template(const std::string& template_source,
                                 const nlohmann::ordered_json& context,
                                 const ChatTemplateOptions& options) {
  if (!context.is_object()) {
    throw Error("[render_chat_template] the context must be a JSON object, got " +
                std::string(context.type_name()));
  }
  jinja::Template tmpl = jinja::parse_template(template_source);
  jinja::RenderOptions ro;
  ro.now = options.now;
  return jinja::render(tmpl, from_json(context), ro);
}

std::string select_chat_template(const nlohmann::ordered_json& chat_template,
                                 const std::string& name, bool prefer_tool_use) {
  if (chat_template.is_string()) {
    if (!name.empty() && name != "default") {
      throw Error("[select_chat_template] no template named '" + name +
                  "': the model has a single template");
    }
    return chat_template.get<std::string>();
  }
  if (!chat_template.is_array()) {
    throw Error(
        "[select_chat_template] chat_template must be a string or a list of "
        "{name, template}, got " +
        std::string(chat_template.type_name()));
  }
  std::string want = !name.empty() ? name : "default";
  std::string names;
  const nlohmann::ordered_json* chosen = nullptr;
  const nlohmann::ordered_json* tool_use = nullptr;
  for (const auto& entry : chat_template) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
        !entry["name"].is_string() || !entry["template"].is_string()) {
      throw Error("[select_chat_template] each named template needs string 'name' and 'template'");
    }
    std::string n = entry["name"].get<std::string>();
    names += (names.empty() ? "" : ", ") + n;
    if (n == want) chosen = &entry;
    if (n == "tool_use") tool_use = &entry;
  }
  if (name.empty() && prefer_tool_use && tool_use) chosen = tool_use;
  if (!chosen) {
    throw Error("[select_chat_template] no template named '" + want + "' (have: " + names + ")");
  }
  return (*chosen)["template"].get<std::string>();
}

std::string find_chat_template(const std::string& model_dir, const std::string& name,
                               bool prefer_tool_use) {
  namespace fs = std::filesystem;
  fs::path dir(model_dir);
  if (fs::exists(dir / "chat_template.jinja")) {
    if (!name.empty() && name != "default") {
      fs::path named = dir / "additional_chat_templates" / (name + ".jinja");
      if (!fs::exists(named)) {
        throw Error("[find_chat_template] no template named '" + name + "' in " + model_dir);
      }
      return read_file(named);
    }
    return read_file(dir / "chat_template.jinja");
  }
  for (const char* file : {"chat_template.json", "tokenizer_config.json"}) {
    fs::path p = dir / file;
    if (!fs::exists(p)) continue;
    nlohmann::ordered_json config;
    try {
      config = nlohmann::ordered_json::parse(read_file(p));
    } catch (const nlohmann::json::exception& e) {
      throw Error("[find_chat_template] " + p.string() + " is not valid JSON: " + e.what());
    }
    if (config.is_object() && config.contains("chat_template")) {
      return select_chat_template(config["chat_template"], name, prefer_tool_use);
    }
  }
  throw Error("[find_chat_template] no chat template in " + model_dir +
              " (looked for chat_template.jinja, chat_template.json, tokenizer_config.json)");
}

std::tm parse_iso8601(const std::string& text) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2d", &y, &mo, &d);
  if (n != 3 || text.size() < 10) {
    throw Error("[parse_iso8601] expected YYYY-MM-DD[THH:MM[:SS]], got '" + text + "'");
  }
  if (text.size() > 10) {
    if (text[10] != 'T' && text[10] != ' ') {
      throw Error("[parse_iso8601] expected 'T' after the date in '" + text + "'");
    }
    int k = std::sscanf(text.c_str() + 11, "%2d:%2d:%2d", &h, &mi, &s);
    if (k < 2) throw Error("[parse_iso8601] expected HH:MM after 'T' in '" + text + "'");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    throw Error("[parse_iso8601] date or time out of range in '" + text + "'");
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return tm;
}

}  // namespace lathe
