// Parsing config.json for the decoder architectures (see config.h).
#include "lathe/models/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace lathe {

namespace {

using nlohmann::json;

const char* const kFull = "full_attention";
const char* const kSliding = "sliding_attention";

// Typed reads of one JSON object whose errors name the file and the field.
class Fields {
 public:
  Fields(const json& j, std::string path, std::string prefix)
      : j_(j), path_(std::move(path)), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw Error("[load_model] " + path_ + ": field '" + prefix_ + name + "' " + what);
  }
  bool present(const std::string& name) const { return j_.contains(name); }
  bool has(const std::string& name) const { return j_.contains(name) && !j_[name].is_null(); }
  const json& at(const std::string& name) const { return j_[name]; }
  std::string name_of(const std::string& name) const { return prefix_ + name; }

  int integer(const std::string& name) const {
    if (!has(name)) fail(name, "is missing");
    const json& v = j_[name];
    // 4096.0 is accepted as 4096 (some exporters write floats).
    if (v.is_number_integer() ||
        (v.is_number_float() && v.get<double>() == int64_t(v.get<double>()))) {
      int64_t x = v.is_number_integer() ? v.get<int64_t>() : int64_t(v.get<double>());
      if (x < INT32_MIN || x > INT32_MAX) fail(name, "is out of range: " + v.dump());
      return static_cast<int>(x);
    }
    fail(name, "must be an integer, got " + v.dump());
  }
  int integer(const std::string& name, std::optional<int> fallback) const {
    if (!has(name)) {
      if (!fallback) fail(name, "is missing");
      return *fallback;
    }
    return integer(name);
  }
  int positive(const std::string& name, std::optional<int> fallback) const {
    int v = integer(name, fallback);
    if (v <= 0) fail(name, "must be positive, got " + std::to_string(v));
    return v;
  }
  double number(const std::string& name) const {
    if (!has(name)) fail(name, "is missing");
    if (!j_[name].is_number()) fail(name, "must be a number, got " + j_[name].dump());
    return j_[name].get<double>();
  }
  double number(const std::string& name, double fallback) const {
    return has(name) ? number(name) : fallback;
  }
  std::optional<double> optional_number(const std::string& name) const {
    if (!has(name)) return std::nullopt;
    return number(name);
  }
  bool boolean(const std::string& name, bool fallback) const {
    if (!has(name)) return fallback;
    if (!j_[name].is_boolean()) fail(name, "must be true or false, got " + j_[name].dump());
    return j_[name].get<bool>();
  }
  std::string string(const std::string& name, const std::string& fallback) const {
    if (!has(name)) return fallback;
    if (!j_[name].is_string()) fail(name, "must be a string, got " + j_[name].dump());
    return j_[name].get<std::string>();
  }

 private:
  const json& j_;
  std::string path_, prefix_;
};

// One rope_scaling / rope_parameters entry.
RopeParams parse_rope(const Fields& f, double theta, int max_positions) {
  RopeParams r;
  r.type = f.string("rope_type", f.string("type", "default"));
  r.theta = f.number("rope_theta", theta);
  r.partial_rotary_factor = f.number("partial_rotary_factor", 1.0);
  static const std::set<std::string> supported{"default", "linear", "dynamic", "llama3"};
  if (!supported.count(r.type)) {
    f.fail("rope_type",
           "'" + r.type + "' is not supported (supported: default, dynamic, linear, llama3)");
  }
  if (r.type != "default") r.factor = f.number("factor");
  if (r.type == "llama3") {
    r.low_freq_factor = f.number("low_freq_factor");
    r.high_freq_factor = f.number("high_freq_factor");
    r.original_max_position_embeddings =
        f.positive("original_max_position_embeddings", max_positions);
  }
  if (r.theta <= 0) f.fail("rope_theta", "must be positive");
  if (r.factor <= 0) f.fail("factor", "must be positive");
  return r;
}

void read_rope(const Fields& f, const ConfigDefaults& d, TextConfig& c) {
  const double theta = f.number("rope_theta", d.rope_theta);
  // Gemma 3's local layers have their own base; everyone else shares one.
  const double local_theta =
      d.gemma_layers ? f.number("rope_local_base_freq", d.rope_local_base_freq) : theta;
  const std::optional<double> partial = f.optional_number("partial_rotary_factor");
  auto plain = [&](double base) {
    RopeParams r;
    r.theta = base;
    return r;
  };
  if (f.has("rope_parameters")) {
    const json& rp = f.at("rope_parameters");
    if (!rp.is_object()) f.fail("rope_parameters", "must be an object");
    bool per_type = !rp.empty();
    for (const auto& [k, v] : rp.items()) per_type = per_type && (k == kFull || k == kSliding);
    if (per_type) {
      for (const char* type : {kFull, kSliding}) {
        const double base = std::string(type) == kSliding ? local_theta : theta;
        if (!rp.contains(type) || rp[type].is_null()) {
          c.rope[type] = plain(base);
          continue;
        }
        if (!rp[type].is_object())
          f.fail(std::string("rope_parameters.") + type, "must be an object");
        Fields sub(rp[type], c.path, f.name_of("rope_parameters.") + type + ".");
        c.rope[type] = parse_rope(sub, base, c.max_position_embeddings);
      }
    } else {
      Fields sub(rp, c.path, f.name_of("rope_parameters."));
      c.rope[kFull] = parse_rope(sub, theta, c.max_position_embeddings);
      c.rope[kSliding] = d.gemma_layers ? plain(local_theta) : c.rope[kFull];
    }
  } else {
    if (f.has("rope_scaling")) {
      if (!f.at("rope_scaling").is_object()) f.fail("rope_scaling", "must be an object or null");
      Fields sub(f.at("rope_scaling"), c.path, f.name_of("rope_scaling."));
      c.rope[kFull] = parse_rope(sub, theta, c.max_position_embeddings);
    } else {
      c.rope[kFull] = plain(theta);
    }
    c.rope[kSliding] = d.gemma_layers ? plain(local_theta) : c.rope[kFull];
  }
  for (auto& [type, r] : c.rope) {
    if (partial) r.partial_rotary_factor = *partial;
    const int dims = static_cast<int>(c.head_dim * r.partial_rotary_factor);
    if (dims <= 0 || dims % 2 != 0 || dims > c.head_dim) {
      f.fail("partial_rotary_factor",
             "gives " + std::to_string(dims) + " rotary dims for head_dim " +
                 std::to_string(c.head_dim) + " (must be even, positive, at most head_dim)");
    }
  }
}

void read_layer_types(const Fields& f, const ConfigDefaults& d, TextConfig& c) {
  const int n = c.num_hidden_layers;
  c.sliding_window = 0;
  if (f.has("sliding_window")) {
    c.sliding_window = f.integer("sliding_window");
  } else if (!f.present("sliding_window") && d.sliding_window) {  // null means none
    c.sliding_window = *d.sliding_window;
  }
  if (d.qwen_sliding && !f.boolean("use_sliding_window", false)) c.sliding_window = 0;

  if (f.has("layer_types")) {
    const json& lt = f.at("layer_types");
    if (!lt.is_array() || static_cast<int>(lt.size()) != n) {
      f.fail("layer_types", "must be an array of " + std::to_string(n) + " layer types");
    }
    for (const auto& v : lt) {
      if (!v.is_string() || (v.get<std::string>() != kFull && v.get<std::string>() != kSliding)) {
        f.fail("layer_types",
               "has " + v.dump() + " (expected \"full_attention\" or \"sliding_attention\")");
      }
      c.layer_types.push_back(v.get<std::string>());
    }
    // Qwen: without use_sliding_window, sliding layers attend fully.
    if (d.qwen_sliding && c.sliding_window == 0) c.layer_types.assign(n, kFull);
  } else if (d.gemma_layers) {
    int pattern = f.has("sliding_window_pattern")
                      ? f.integer("sliding_window_pattern")
                      : f.integer("_sliding_window_pattern", d.sliding_window_pattern);
    if (pattern <= 0) f.fail("sliding_window_pattern", "must be positive");
    for (int i = 0; i < n; ++i) c.layer_types.push_back((i + 1) % pattern ? kSliding : kFull);
  } else if (d.qwen_sliding && c.sliding_window > 0) {
    const int first = f.integer("max_window_layers", 28);
    for (int i = 0; i < n; ++i) c.layer_types.push_back(i >= first ? kSliding : kFull);
  } else if (d.window_on_all_layers && c.sliding_window > 0) {
    c.layer_types.assign(n, kSliding);
  } else {
    c.layer_types.assign(n, kFull);
  }
  bool any_sliding = false;
  for (const auto& t : c.layer_types) any_sliding = any_sliding || t == kSliding;
  if (any_sliding && c.sliding_window <= 0) {
    f.fail("sliding_window", "must be positive when layers use sliding attention");
  }
}

}  // namespace

TextConfig read_text_config(const std::string& dir, const ConfigDefaults& d) {
  TextConfig c;
  c.path = dir + "/config.json";
  std::ifstream in(c.path);
  if (!in) throw Error("[load_model] " + dir + ": no config.json");
  json top;
  try {
    top = json::parse(in);
  } catch (const json::exception& e) {
    throw Error("[load_model] " + c.path + ": not valid JSON: " + e.what());
  }
  if (!top.is_object()) throw Error("[load_model] " + c.path + ": not a JSON object");
  Fields root(top, c.path, "");
  c.model_type = root.string("model_type", "");
  const bool nested = top.contains("text_config") && top["text_config"].is_object();
  Fields f(nested ? top["text_config"] : top, c.path, nested ? "text_config." : "");

  c.vocab_size = f.positive("vocab_size", d.vocab_size);
  c.hidden_size = f.positive("hidden_size", d.hidden_size);
  c.intermediate_size = f.positive("intermediate_size", d.intermediate_size);
  c.num_hidden_layers = f.positive("num_hidden_layers", d.num_hidden_layers);
  c.num_attention_heads = f.positive("num_attention_heads", d.num_attention_heads);
  c.num_key_value_heads =
      f.positive("num_key_value_heads", d.num_key_value_heads.value_or(c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    f.fail("num_key_value_heads", std::to_string(c.num_key_value_heads) +
                                      " must divide num_attention_heads " +
                                      std::to_string(c.num_attention_heads));
  }
  if (f.has("head_dim")) {
    c.head_dim = f.positive("head_dim", std::nullopt);
  } else if (d.head_dim) {
    c.head_dim = *d.head_dim;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      f.fail("head_dim", "is missing and hidden_size " + std::to_string(c.hidden_size) +
                             " is not a multiple of num_attention_heads " +
                             std::to_string(c.num_attention_heads));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  c.max_position_embeddings = f.positive("max_position_embeddings", d.max_position_embeddings);
  c.rms_norm_eps = f.number("rms_norm_eps", d.rms_norm_eps);
  // Multimodal folders may say it at the top level.
  c.tie_word_embeddings =
      f.boolean("tie_word_embeddings", root.boolean("tie_word_embeddings", d.tie_word_embeddings));
  c.attention_bias = f.boolean("attention_bias", d.attention_bias);
  c.mlp_bias = f.boolean("mlp_bias", false);
  c.hidden_act = f.string("hidden_activation", f.string("hidden_act", d.hidden_act));
  c.query_pre_attn_scalar =
      d.query_pre_attn_scalar ? f.number("query_pre_attn_scalar", *d.query_pre_attn_scalar) : 0;
  c.final_logit_softcapping = f.optional_number("final_logit_softcapping");
  c.attn_logit_softcapping = f.optional_number("attn_logit_softcapping");
  c.bidirectional_attention = f.boolean("use_bidirectional_attention", false);
  read_layer_types(f, d, c);
  read_rope(f, d, c);
  return c;
}

}  // namespace lathe
