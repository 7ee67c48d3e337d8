// Loading: tokenizer.json, the vocab.json + merges.txt form, and the special-token cascade of
// tokenizer_config.json, special_tokens_map.json, generation_config.json and config.json.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lathe/core/error.h"
#include "lathe/text/tokenizer_impl.h"

namespace lathe::text {

namespace fs = std::filesystem;

namespace {

Json parse_json_text(const std::string& text, const std::string& name) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw Error("[tokenizer] " + name + ": invalid JSON: " + e.what());
  }
}

std::optional<Json> read_json_file(const fs::path& p) {
  if (!fs::exists(p)) return std::nullopt;
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("[tokenizer] cannot open " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_json_text(ss.str(), p.string());
}

std::vector<AddedToken> read_added_tokens(const Json& list, const JsonPath& at) {
  std::vector<AddedToken> out;
  if (list.is_null()) return out;
  if (!list.is_array()) at.fail("expected an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& e = list[i];
    JsonPath here = at[i];
    AddedToken t;
    t.content = get_string(e, here, "content");
    get_int(e, here, "id");
    t.single_word = get_bool_or(e, here, "single_word", false);
    t.lstrip = get_bool_or(e, here, "lstrip", false);
    t.rstrip = get_bool_or(e, here, "rstrip", false);
    t.special = get_bool_or(e, here, "special", false);
    t.normalized = get_bool_or(e, here, "normalized", !t.special);
    out.push_back(std::move(t));
  }
  return out;
}

// A token given as "text", {"content": "text", ...} or null.
std::optional<std::string> token_string(const Json& cfg, const char* key, const std::string& file) {
  if (!cfg.is_object() || !cfg.contains(key)) return std::nullopt;
  const Json& v = cfg[key];
  if (v.is_null()) return std::string();
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  JsonPath(file, key).fail("expected a token string or {\"content\": ...}");
}

void append_ids(const Json& cfg, const char* key, const std::string& file,
                std::vector<int32_t>& out) {
  if (!cfg.is_object() || !cfg.contains(key) || cfg[key].is_null()) return;
  const Json& v = cfg[key];
  auto add = [&](const Json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
      JsonPath(file, key).fail("expected a non-negative id or a list of them");
    auto id = static_cast<int32_t>(x.get<int64_t>());
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  };
  if (v.is_array()) {
    for (auto& x : v) add(x);
  } else {
    add(v);
  }
}

}  // namespace

std::shared_ptr<Tokenizer::Impl> parse_tokenizer_json(const std::string& text,
                                                      const std::string& name) {
  Json j = parse_json_text(text, name);
  JsonPath root(name, "");
  if (!j.is_object()) root.fail("expected a JSON object");
  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->source = name;
  try {
    if (j.contains("version") && !(j["version"].is_string() && j["version"] == "1.0"))
      (root / "version").fail("unknown tokenizer version");
    auto component = [&](const char* key) -> const Json& {
      static const Json null_json;
      auto it = j.find(key);
      return it == j.end() ? null_json : *it;
    };
    impl->normalizer = make_normalizer(component("normalizer"), root / "normalizer");
    impl->pre_tokenizer = make_pre_tokenizer(component("pre_tokenizer"), root / "pre_tokenizer");
    impl->model = make_model(require(j, root, "model"), root / "model");
    impl->post_processor =
        make_post_processor(component("post_processor"), root / "post_processor");
    impl->decoder = make_decoder(component("decoder"), root / "decoder");
    impl->added.add(read_added_tokens(component("added_tokens"), root / "added_tokens"),
                    *impl->model, impl->normalizer.get());
  } catch (const Json::exception& e) {
    throw Error("[tokenizer] " + name + ": malformed tokenizer: " + e.what());
  }
  return impl;
}

void apply_model_configs(Tokenizer::Impl& impl, const std::string& dir) {
  fs::path d(dir);
  const std::string tc_name = (d / "tokenizer_config.json").string();
  const std::string sm_name = (d / "special_tokens_map.json").string();
  const std::string gc_name = (d / "generation_config.json").string();
  const std::string mc_name = (d / "config.json").string();
  Json tc = read_json_file(tc_name).value_or(Json::object());
  Json sm = read_json_file(sm_name).value_or(Json::object());
  Json gc = read_json_file(gc_name).value_or(Json::object());
  Json mc = read_json_file(mc_name).value_or(Json::object());
  SpecialTokens& st = impl.special;
  auto lookup = [&](const std::string& t) -> std::optional<int32_t> {
    if (t.empty()) return std::nullopt;
    if (auto id = impl.added.token_to_id(t)) return id;
    return impl.model->token_to_id(t);
  };
  // A token string from tokenizer_config wins over special_tokens_map (an explicit null too).
  auto token_of = [&](const char* key) {
    if (auto v = token_string(tc, key, tc_name)) return *v;
    if (auto v = token_string(sm, key, sm_name)) return *v;
    return std::string();
  };
  st.bos_token = token_of("bos_token");
  st.eos_token = token_of("eos_token");
  st.pad_token = token_of("pad_token");
  st.unk_token = token_of("unk_token");

  st.bos_id = lookup(st.bos_token);
  if (!st.bos_id && !tc.contains("bos_token") && !sm.contains("bos_token")) {
    std::vector<int32_t> ids;
    append_ids(gc, "bos_token_id", gc_name, ids);
    append_ids(mc, "bos_token_id", mc_name, ids);
    if (!ids.empty()) st.bos_id = ids[0];
  }
  st.eos_ids.clear();
  if (auto id = lookup(st.eos_token)) st.eos_ids.push_back(*id);
  append_ids(gc, "eos_token_id", gc_name, st.eos_ids);
  append_ids(mc, "eos_token_id", mc_name, st.eos_ids);
  st.pad_id = lookup(st.pad_token);
  if (!st.pad_id && !tc.contains("pad_token") && !sm.contains("pad_token")) {
    std::vector<int32_t> ids;
    append_ids(gc, "pad_token_id", gc_name, ids);
    append_ids(mc, "pad_token_id", mc_name, ids);
    if (!ids.empty()) st.pad_id = ids[0];
  }
  st.unk_id = lookup(st.unk_token);

  // What encode(text, true) adds: the post-processor, unless a Llama/Gemma-style tokenizer
  // class sets add_bos_token / add_eos_token, which transformers turns into the template.
  std::vector<int32_t> prefix, suffix;
  if (impl.post_processor) impl.post_processor->special_ids(prefix, suffix);
  st.add_bos = st.bos_id && !prefix.empty() && prefix.front() == *st.bos_id;
  st.add_eos = !st.eos_ids.empty() && !suffix.empty() && suffix.back() == st.eos_ids[0];
  std::string cls =
      tc.is_object() && tc.contains("tokenizer_class") && tc["tokenizer_class"].is_string()
          ? tc["tokenizer_class"].get<std::string>()
          : std::string();
  bool honours_flags = cls.rfind("LlamaTokenizer", 0) == 0 || cls.rfind("GemmaTokenizer", 0) == 0 ||
                       cls.rfind("CodeLlamaTokenizer", 0) == 0;
  if (honours_flags && (tc.contains("add_bos_token") || tc.contains("add_eos_token"))) {
    impl.override_specials = true;
    st.add_bos = get_bool_or(tc, JsonPath(tc_name, ""), "add_bos_token", st.add_bos);
    st.add_eos = get_bool_or(tc, JsonPath(tc_name, ""), "add_eos_token", st.add_eos);
  }
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  fs::path d(dir);
  if (!fs::is_directory(d)) throw Error("[tokenizer] not a directory: " + dir);
  std::shared_ptr<Impl> impl;
  fs::path tj = d / "tokenizer.json";
  if (fs::exists(tj)) {
    std::ifstream f(tj, std::ios::binary);
    if (!f) throw Error("[tokenizer] cannot open " + tj.string());
    std::ostringstream ss;
    ss << f.rdbuf();
    impl = parse_tokenizer_json(ss.str(), tj.string());
  } else if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) {
    // The GPT-2 layout: byte-level BPE with the GPT-2 regex.
    impl = std::make_shared<Impl>();
    impl->source = dir;
    impl->model = make_bpe_from_files((d / "vocab.json").string(), (d / "merges.txt").string());
    Json tc = read_json_file(d / "tokenizer_config.json").value_or(Json::object());
    bool prefix = get_bool_or(tc, JsonPath((d / "tokenizer_config.json").string(), ""),
                              "add_prefix_space", false);
    impl->pre_tokenizer = make_byte_level_pre_tokenizer(prefix, true);
    impl->decoder = make_byte_level_decoder();
    std::vector<AddedToken> specials;
    if (tc.contains("added_tokens_decoder") && tc["added_tokens_decoder"].is_object()) {
      JsonPath at((d / "tokenizer_config.json").string(), "added_tokens_decoder");
      for (auto it = tc["added_tokens_decoder"].begin(); it != tc["added_tokens_decoder"].end();
           ++it) {
        JsonPath here = at / it.key();
        AddedToken t;
        t.content = get_string(it.value(), here, "content");
        t.single_word = get_bool_or(it.value(), here, "single_word", false);
        t.lstrip = get_bool_or(it.value(), here, "lstrip", false);
        t.rstrip = get_bool_or(it.value(), here, "rstrip", false);
        t.special = get_bool_or(it.value(), here, "special", true);
        t.normalized = get_bool_or(it.value(), here, "normalized", !t.special);
        specials.push_back(std::move(t));
      }
    }
    impl->added.add(specials, *impl->model, nullptr);
  } else {
    throw Error("[tokenizer] " + dir + ": no tokenizer.json, nor vocab.json + merges.txt");
  }
  apply_model_configs(*impl, dir);
  return Tokenizer(impl);
}

}  // namespace lathe::text
