// Chat templates: renders a model's Jinja chat template as transformers' apply_chat_template
// does, and finds that template in a model folder.
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace lathe {

struct ChatTemplateOptions {
  // What strftime_now() returns; the current local time when unset.
  std::optional<std::tm> now;
};

// Renders `template_source` with the variables of `context` (a JSON object: messages,
// add_generation_prompt, tools, bos_token, ...). An ordered_json keeps the key order that
// `tojson` and `items()` expose. Throws lathe::Error on syntax errors, on errors raised by the
// template (raise_exception) and on runtime errors such as misused undefined values.
std::string render_chat_template(const std::string& template_source,
                                 const nlohmann::ordered_json& context,
                                 const ChatTemplateOptions& options = {});

// Picks a template from tokenizer_config.json's `chat_template` value: a string, or a list of
// {name, template}. With several, `name` chooses; without a name, "tool_use" when
// `prefer_tool_use` and present, else "default".
std::string select_chat_template(const nlohmann::ordered_json& chat_template,
                                 const std::string& name = "", bool prefer_tool_use = false);

// The chat template of a model folder: chat_template.jinja, else chat_template.json, else
// tokenizer_config.json's `chat_template`. Throws lathe::Error when there is none.
std::string find_chat_template(const std::string& model_dir, const std::string& name = "",
                               bool prefer_tool_use = false);

// Parses "YYYY-MM-DD[THH:MM[:SS]]" (a trailing "Z" or fraction is ignored) for --now.
std::tm parse_iso8601(const std::string& text);

}  // namespace lathe
