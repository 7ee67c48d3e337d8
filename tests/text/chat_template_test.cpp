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
