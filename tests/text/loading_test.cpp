// Loading: the special-token cascade (checked against what transformers reported for the same
// files) and malformed tokenizer.json files, which must fail with an error naming the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lathe/core/error.h"
#include "lathe/text/tokenizer.h"
#include "text/fixtures.h"

namespace lathe::testing {
namespace {

using text::Tokenizer;
namespace fs = std::filesystem;

std::optional<int32_t> opt_id(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<int32_t>();
}

TEST(Cascade, MatchesTransformers) {
  int checked = 0;
  for (auto& name : fixture_names()) {
    auto dir = tokenizer_fixtures() / name;
    if (!fs::exists(dir / "meta.json")) continue;
    auto meta = read_json(dir / "meta.json");
    if (!meta.contains("transformers")) continue;
    auto& tf = meta["transformers"];
    Tokenizer tok = Tokenizer::from_dir(dir.string());
    auto& st = tok.special_tokens();
    SCOPED_TRACE(name);
    EXPECT_EQ(st.bos_id, opt_id(tf["bos_token_id"]));
    EXPECT_EQ(st.eos_ids.empty() ? std::nullopt : std::optional<int32_t>(st.eos_ids[0]),
              opt_id(tf["eos_token_id"]));
    EXPECT_EQ(st.pad_id, opt_id(tf["pad_token_id"]));
    EXPECT_EQ(st.unk_id, opt_id(tf["unk_token_id"]));
    // transformers' tokenizer(text) adds special tokens; so must encode(text, true).
    std::vector<std::string> texts = {"Hello world", "<s>x</s>", ""};
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_EQ(tok.encode(texts[i], true), tf["input_ids"][i].get<std::vector<int32_t>>())
          << texts[i];
    if (meta.contains("generation_eos_token_id")) {
      auto& g = meta["generation_eos_token_id"];
      std::vector<int32_t> gen =
          g.is_array() ? g.get<std::vector<int32_t>>() : std::vector<int32_t>{g.get<int32_t>()};
      for (int32_t id : gen)
        EXPECT_NE(std::find(st.eos_ids.begin(), st.eos_ids.end(), id), st.eos_ids.end()) << id;
    }
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST(Cascade, Llama3StopIdsAndBos) {
  Tokenizer tok = Tokenizer::from_dir((tokenizer_fixtures() / "bpe_llama3").string());
  auto& st = tok.special_tokens();
  int32_t eot = *tok.token_to_id("<|eot_id|>"), end = *tok.token_to_id("<|end_of_text|>");
  EXPECT_EQ(st.eos_ids, (std::vector<int32_t>{eot, end}));
  EXPECT_EQ(st.bos_token, "<|begin_of_text|>");
  EXPECT_TRUE(st.add_bos);
  EXPECT_FALSE(st.add_eos);
  EXPECT_TRUE(tok.is_special_id(eot));
  EXPECT_FALSE(tok.is_special_id(*tok.token_to_id("<tool>")));
}

fs::path scratch_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("lathe_tok_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

TEST(Cascade, LlamaClassAddEosFlag) {
  // A Llama tokenizer class with add_eos_token: transformers appends eos to every encode.
  fs::path d = scratch_dir("add_eos");
  fs::path src = tokenizer_fixtures() / "sp_bpe_llama2";
  fs::copy_file(src / "tokenizer.json", d / "tokenizer.json");
  auto cfg = read_json(src / "tokenizer_config.json");
  cfg["tokenizer_class"] = "LlamaTokenizerFast";
  cfg["add_eos_token"] = true;
  write(d / "tokenizer_config.json", cfg.dump());
  Tokenizer tok = Tokenizer::from_dir(d.string());
  auto cases = read_json(src / "cases.json");
  for (size_t i = 0; i < 20; ++i) {
    auto want = cases[i]["ids_special"].get<std::vector<int32_t>>();
    want.push_back(2);
    EXPECT_EQ(tok.encode(cases[i]["text"].get<std::string>(), true), want);
  }
  fs::remove_all(d);
}

// Loads text as tokenizer.json and returns the error message ("" when it loads).
std::string load_error(const std::string& json) {
  try {
    Tokenizer::from_json(json, "bad/tokenizer.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kBpeModel =
    R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";

TEST(Loading, MalformedFilesNameFileAndField) {
  struct Case {
    std::string json;
    std::vector<std::string> expect;
  };
  std::string m = kBpeModel;
  std::vector<Case> cases = {
      {"{\"model\": ", {"bad/tokenizer.json", "invalid JSON"}},
      {"[1, 2]", {"bad/tokenizer.json", "expected a JSON object"}},
      {"{}", {"bad/tokenizer.json", "'model'", "missing"}},
      {R"({"model": {"type": "Foo"}})", {"'model.type'", "unsupported model type 'Foo'"}},
      {R"({"model": {"type": "BPE", "merges": []}})", {"'model.vocab'", "missing"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]}})",
       {"'model.merges[0]'", "'c' is not in the vocabulary"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": -3}, "merges": []}})", {"'model.vocab.a'"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}})", {"'model.merges[0]'"}},
      {R"({"model": {"type": "Unigram", "vocab": [["a", "x"]]}})", {"'model.vocab[0]'"}},
      {R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 4}})",
       {"'model.unk_id'", "out of range"}},
      {R"({"model": {"type": "WordPiece", "vocab": []}})", {"'model.vocab'"}},
      {"{" + m + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"},
        "behavior": "Isolated", "invert": false}})",
       {"'pre_tokenizer.pattern'", "bad regex"}},
      {"{" + m + R"(, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "x"}, "behavior": "Sideways"}]}})",
       {"'pre_tokenizer.pretokenizers[0].behavior'", "Sideways"}},
      {"{" + m + R"(, "normalizer": {"type": "Sparkle"}})", {"'normalizer.type'", "Sparkle"}},
      {"{" + m + R"(, "normalizer": {"type": "Replace", "pattern": {"Regex": "[a"},
        "content": ""}})",
       {"'normalizer.pattern'", "bad regex"}},
      {"{" + m + R"(, "decoder": {"type": "Strip", "content": "ab", "start": 1, "stop": 0}})",
       {"'decoder.content'", "one character"}},
      {"{" + m + R"(, "post_processor": {"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "special_tokens": {}}})",
       {"'post_processor.special_tokens'", "<s>"}},
      {"{" + m + R"(, "added_tokens": [{"id": 5}]})", {"'added_tokens[0].content'", "missing"}},
      {"{" + m + R"(, "version": "2.0"})", {"'version'"}},
      {"{" + m + R"(, "pre_tokenizer": {"type": "Metaspace", "replacement": ""}})",
       {"'pre_tokenizer.replacement'"}},
  };
  for (auto& c : cases) {
    std::string msg = load_error(c.json);
    ASSERT_FALSE(msg.empty()) << "loaded: " << c.json;
    EXPECT_EQ(msg.rfind("[tokenizer]", 0), 0u) << msg;
    for (auto& part : c.expect)
      EXPECT_NE(msg.find(part), std::string::npos) << msg << "\n  lacks " << part;
  }
  EXPECT_EQ(load_error("{" + m + "}"), "");
}

TEST(Loading, DirectoriesAndFiles) {
  EXPECT_THROW(Tokenizer::from_dir("/nonexistent/lathe/model"), Error);
  fs::path d = scratch_dir("empty");
  try {
    Tokenizer::from_dir(d.string());
    ADD_FAILURE() << "loaded an empty directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json"), std::string::npos);
  }
  write(d / "tokenizer.json", std::string("{") + kBpeModel + "}");
  write(d / "generation_config.json", "{\"eos_token_id\": [1, oops]}");
  try {
    Tokenizer::from_dir(d.string());
    ADD_FAILURE() << "accepted a broken generation_config.json";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("generation_config.json"), std::string::npos) << e.what();
  }
  write(d / "generation_config.json", "{\"eos_token_id\": \"two\"}");
  EXPECT_THROW(Tokenizer::from_dir(d.string()), Error);
  fs::remove_all(d);
  Tokenizer t = Tokenizer::from_json(std::string("{") + kBpeModel + "}", "inline");
  EXPECT_EQ(t.encode("ab", false), (std::vector<int32_t>{2}));
  EXPECT_THROW(t.encode(std::string("a\xFF"), false), Error);
}

}  // namespace
}  // namespace lathe::testing
