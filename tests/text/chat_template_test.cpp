// Chat-template conformance: real model templates rendered against jinja2's expected output
// (shared/conformance/chat_templates, read at run time, never copied into the repository).
#include "lathe/text/chat_template.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lathe/core/error.h"

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The conformance folder: $LATHE_SHARED_DIR, else the build's LATHE_SHARED_DIR, else
// /work/shared (where a worktree's relative ../shared does not exist).
fs::path conformance_dir() {
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("LATHE_SHARED_DIR")) roots.emplace_back(env);
#ifdef LATHE_SHARED_DIR
  roots.emplace_back(LATHE_SHARED_DIR);
#endif
  roots.emplace_back("/work/shared");
  for (const auto& r : roots) {
    fs::path p = r / "conformance" / "chat_templates";
    if (fs::exists(p / "cases.json")) return p;
  }
  return {};
}

std::tm pinned_now() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 10;
  tm.tm_hour = 12;
  return tm;
}

TEST(ChatTemplateConformance, EveryCase) {
  fs::path dir = conformance_dir();
  if (dir.empty()) {
    GTEST_SKIP() << "shared/conformance/chat_templates not found (set LATHE_SHARED_DIR to the "
                    "folder holding conformance/)";
  }
  auto cases = nlohmann::ordered_json::parse(read_file(dir / "cases.json"));
  ASSERT_TRUE(cases.is_array());
  lathe::ChatTemplateOptions options;
  options.now = pinned_now();
  int passed = 0, total = 0;
  for (const auto& c : cases) {
    ++total;
    std::string name = c["case"].get<std::string>();
    std::string source = c.contains("template_source")
                             ? c["template_source"].get<std::string>()
                             : read_file(dir / c["template"].get<std::string>());
    if (c.contains("template")) name = c["template"].get<std::string>() + " " + name;
    std::string got;
    std::string error;
    try {
      got = lathe::render_chat_template(source, c["context"], options);
    } catch (const lathe::Error& e) {
      error = e.what();
    }
    if (c.contains("expected_error")) {
      // jinja2's "Kind: message": lathe's error must carry the same message.
      std::string want = c["expected_error"].get<std::string>();
      std::string message = want.substr(want.find(": ") + 2);
      bool ok = error.find(message) != std::string::npos;
      EXPECT_TRUE(ok) << name << ": expected an error with '" << want << "', got error '" << error
                      << "' and rendering:\n"
                      << got;
      if (ok) ++passed;
      continue;
    }
    std::string want = c["expected"].get<std::string>();
    EXPECT_TRUE(error.empty()) << name << ": unexpected error: " << error;
    EXPECT_EQ(got, want) << name;
    if (error.empty() && got == want) ++passed;
  }
  std::printf("chat template conformance: %d / %d cases pass\n", passed, total);
  EXPECT_EQ(passed, total);
}

}  // namespace

namespace {

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("lathe_chat_template_" +
             std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

TEST(ChatTemplateFind, StringInTokenizerConfig) {
  TempDir d;
  d.write("tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": "{{ bos_token }}"})");
  EXPECT_EQ(lathe::find_chat_template(d.path().string()), "{{ bos_token }}");
  EXPECT_THROW(lathe::find_chat_template(d.path().string(), "tool_use"), lathe::Error);
}

TEST(ChatTemplateFind, NamedTemplates) {
  TempDir d;
  d.write("tokenizer_config.json", R"({"chat_template": [
      {"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"},
      {"name": "rag", "template": "R"}]})");
  std::string dir = d.path().string();
  EXPECT_EQ(lathe::find_chat_template(dir), "D");
  EXPECT_EQ(lathe::find_chat_template(dir, "rag"), "R");
  EXPECT_EQ(lathe::find_chat_template(dir, "", /*prefer_tool_use=*/true), "T");
  EXPECT_EQ(lathe::find_chat_template(dir, "default", /*prefer_tool_use=*/true), "D");
  try {
    lathe::find_chat_template(dir, "nope");
    FAIL() << "expected an error";
  } catch (const lathe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("default, tool_use, rag"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplateFind, JinjaFileTakesPrecedence) {
  TempDir d;
  d.write("tokenizer_config.json", R"({"chat_template": "from config"})");
  d.write("chat_template.jinja", "from file");
  d.write("additional_chat_templates/rag.jinja", "rag file");
  EXPECT_EQ(lathe::find_chat_template(d.path().string()), "from file");
  EXPECT_EQ(lathe::find_chat_template(d.path().string(), "rag"), "rag file");
}

TEST(ChatTemplateFind, MissingOrMalformed) {
  TempDir d;
  EXPECT_THROW(lathe::find_chat_template(d.path().string()), lathe::Error);
  d.write("tokenizer_config.json", R"({"chat_template": 5})");
  EXPECT_THROW(lathe::find_chat_template(d.path().string()), lathe::Error);
  d.write("tokenizer_config.json", "{not json");
  EXPECT_THROW(lathe::find_chat_template(d.path().string()), lathe::Error);
}

TEST(ChatTemplate, ParseIso8601) {
  std::tm tm = lathe::parse_iso8601("2024-02-29T23:05:09");
  EXPECT_EQ(tm.tm_year, 124);
  EXPECT_EQ(tm.tm_mon, 1);
  EXPECT_EQ(tm.tm_mday, 29);
  EXPECT_EQ(tm.tm_hour, 23);
  EXPECT_EQ(tm.tm_min, 5);
  EXPECT_EQ(tm.tm_sec, 9);
  lathe::ChatTemplateOptions options;
  options.now = tm;
  EXPECT_EQ(lathe::render_chat_template("{{ strftime_now('%A %d %B %Y %H:%M') }}",
                                        nlohmann::ordered_json::object(), options),
            "Thursday 29 February 2024 23:05");
  EXPECT_THROW(lathe::parse_iso8601("July 10"), lathe::Error);
  EXPECT_THROW(lathe::parse_iso8601("2025-13-01"), lathe::Error);
}

}  // namespace
