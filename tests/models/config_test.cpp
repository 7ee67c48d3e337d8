// config.json parsing: the hub's common form and transformers' newer one give
// the same settings; defaults, text_config nesting and errors.
#include "lathe/models/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace lathe {
namespace {

std::string write_config(const nlohmann::json& j, const std::string& name) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / ("lathe_config_test_" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << j.dump();
  return dir.string();
}

nlohmann::json base() {
  return {{"model_type", "llama"},         {"vocab_size", 100},      {"hidden_size", 64},
          {"intermediate_size", 128},      {"num_hidden_layers", 4}, {"num_attention_heads", 4},
          {"max_position_embeddings", 256}};
}

ConfigDefaults gemma() {
  ConfigDefaults d;
  d.gemma_layers = true;
  d.sliding_window = 4096;
  d.query_pre_attn_scalar = 256;
  d.head_dim = 256;
  d.tie_word_embeddings = true;
  return d;
}

TEST(Config, LlamaDefaultsAndDerivedFields) {
  TextConfig c = read_text_config(write_config(base(), "llama"), ConfigDefaults{});
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.num_key_value_heads, 4);  // defaults to the query heads
  EXPECT_EQ(c.head_dim, 16);            // hidden / heads
  EXPECT_EQ(c.layer_types, std::vector<std::string>(4, "full_attention"));
  EXPECT_EQ(c.rope.at("full_attention").type, "default");
  EXPECT_DOUBLE_EQ(c.rope.at("full_attention").theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.sliding_window, 0);
}

TEST(Config, Llama3RopeInBothForms) {
  auto old_form = base();
  old_form["rope_theta"] = 500000.0;
  old_form["rope_scaling"] = {{"rope_type", "llama3"},
                              {"factor", 8.0},
                              {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 64}};
  auto new_form = base();
  new_form["rope_parameters"] = {
      {"rope_type", "llama3"},   {"rope_theta", 500000.0},
      {"factor", 8.0},           {"low_freq_factor", 1.0},
      {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  for (const auto& [j, name] : {std::pair{old_form, "old"}, std::pair{new_form, "new"}}) {
    const RopeParams r = read_text_config(write_config(j, name), {}).rope.at("full_attention");
    EXPECT_EQ(r.type, "llama3") << name;
    EXPECT_DOUBLE_EQ(r.theta, 500000.0) << name;
    EXPECT_DOUBLE_EQ(r.factor, 8.0) << name;
    EXPECT_DOUBLE_EQ(r.high_freq_factor, 4.0) << name;
    EXPECT_EQ(r.original_max_position_embeddings, 64) << name;
  }
  // original_max_position_embeddings falls back to max_position_embeddings; "type" is an alias.
  auto j = base();
  j["rope_scaling"] = {
      {"type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}};
  const RopeParams r = read_text_config(write_config(j, "fallback"), {}).rope.at("full_attention");
  EXPECT_EQ(r.type, "llama3");
  EXPECT_EQ(r.original_max_position_embeddings, 256);
}

TEST(Config, GemmaLayerTypesAndRopePerTypeInBothForms) {
  auto old_form = base();
  old_form["model_type"] = "gemma3_text";
  old_form["sliding_window_pattern"] = 2;
  old_form["sliding_window"] = 8;
  old_form["rope_theta"] = 1e6;
  old_form["rope_local_base_freq"] = 1e4;
  old_form["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  auto new_form = base();
  new_form["model_type"] = "gemma3_text";
  new_form["sliding_window"] = 8;
  new_form["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention",
                             "full_attention"};
  new_form["rope_parameters"] = {
      {"full_attention", {{"rope_type", "linear"}, {"factor", 4.0}, {"rope_theta", 1e6}}},
      {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}}};
  // A multimodal folder nests the same settings in text_config.
  nlohmann::json nested = {{"model_type", "gemma3"}, {"text_config", new_form}};
  for (const auto& [j, name] : {std::pair{old_form, "gemma_old"}, std::pair{new_form, "gemma_new"},
                                std::pair{nested, "mm"}}) {
    TextConfig c = read_text_config(write_config(j, name), gemma());
    EXPECT_EQ(c.layer_types, (std::vector<std::string>{"sliding_attention", "full_attention",
                                                       "sliding_attention", "full_attention"}))
        << name;
    EXPECT_EQ(c.sliding_window, 8) << name;
    EXPECT_EQ(c.rope.at("full_attention").type, "linear") << name;
    EXPECT_DOUBLE_EQ(c.rope.at("full_attention").factor, 4.0) << name;
    EXPECT_DOUBLE_EQ(c.rope.at("full_attention").theta, 1e6) << name;
    EXPECT_EQ(c.rope.at("sliding_attention").type, "default") << name;
    EXPECT_DOUBLE_EQ(c.rope.at("sliding_attention").theta, 1e4) << name;
    EXPECT_EQ(c.head_dim, 256) << name;  // Gemma3TextConfig's default
    EXPECT_TRUE(c.tie_word_embeddings) << name;
    EXPECT_DOUBLE_EQ(c.query_pre_attn_scalar, 256) << name;
  }
  EXPECT_EQ(read_text_config(write_config(nested, "mm2"), gemma()).model_type, "gemma3");
}

TEST(Config, QwenSlidingWindowsNeedUseSlidingWindow) {
  ConfigDefaults q;
  q.qwen_sliding = true;
  q.sliding_window = 4096;
  auto j = base();
  j["model_type"] = "qwen2";
  j["sliding_window"] = 32;
  j["max_window_layers"] = 2;
  EXPECT_EQ(read_text_config(write_config(j, "qwen_off"), q).layer_types,
            std::vector<std::string>(4, "full_attention"));
  j["use_sliding_window"] = true;
  TextConfig c = read_text_config(write_config(j, "qwen_on"), q);
  EXPECT_EQ(c.layer_types, (std::vector<std::string>{"full_attention", "full_attention",
                                                     "sliding_attention", "sliding_attention"}));
  EXPECT_EQ(c.sliding_window, 32);
}

TEST(Config, NullSlidingWindowMeansNone) {
  ConfigDefaults m;
  m.sliding_window = 4096;
  m.window_on_all_layers = true;
  auto j = base();
  j["sliding_window"] = nullptr;
  EXPECT_EQ(read_text_config(write_config(j, "null_window"), m).sliding_window, 0);
  j.erase("sliding_window");
  TextConfig c = read_text_config(write_config(j, "absent_window"), m);
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.layer_types, std::vector<std::string>(4, "sliding_attention"));
}

std::string error_of(const nlohmann::json& j, const ConfigDefaults& d = {}) {
  try {
    read_text_config(write_config(j, "errors"), d);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ErrorsNameTheFileAndField) {
  auto j = base();
  j.erase("hidden_size");
  std::string m = error_of(j);
  EXPECT_NE(m.find("config.json"), std::string::npos) << m;
  EXPECT_NE(m.find("'hidden_size' is missing"), std::string::npos) << m;
  j = {{"model_type", "gemma3"}, {"text_config", base()}};
  j["text_config"].erase("intermediate_size");
  m = error_of(j, gemma());
  EXPECT_NE(m.find("'text_config.intermediate_size' is missing"), std::string::npos) << m;
  j = base();
  j["layer_types"] = {"full_attention"};
  EXPECT_NE(error_of(j).find("layer_types"), std::string::npos);
  j = base();
  j["layer_types"] = {"full_attention", "chunked_attention", "full_attention", "full_attention"};
  EXPECT_NE(error_of(j).find("chunked_attention"), std::string::npos);
  j = base();
  j["layer_types"] = std::vector<std::string>(4, "sliding_attention");
  EXPECT_NE(error_of(j).find("sliding_window"), std::string::npos);
  j = base();
  j["rope_parameters"] = {{"rope_type", "linear"}};
  EXPECT_NE(error_of(j).find("rope_parameters.factor"), std::string::npos);
  j = base();
  j["partial_rotary_factor"] = 0.1;  // 1.6 rotary dims
  EXPECT_NE(error_of(j).find("partial_rotary_factor"), std::string::npos);
  j = base();
  j["num_attention_heads"] = -4;
  EXPECT_NE(error_of(j).find("positive"), std::string::npos);
}

}  // namespace
}  // namespace lathe
