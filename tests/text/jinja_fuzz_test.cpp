// Robustness of the Jinja engine: random bytes and mutated real templates must render or
// throw lathe::Error, never crash, hang or throw anything else. Seeds are fixed so a failure
// reproduces; the failing input is printed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "lathe/core/error.h"
#include "lathe/text/chat_template.h"

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Seed templates: the committed jinja2 reference cases, plus the real model templates of the
// shared conformance folder where it exists.
std::vector<std::string> seed_templates() {
  std::vector<std::string> seeds;
  auto doc = nlohmann::ordered_json::parse(
      read_file(fs::path(LATHE_SOURCE_DIR) / "tests/data/text/jinja_cases.json"));
  for (const auto& c : doc["cases"]) seeds.push_back(c["template"].get<std::string>());
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("LATHE_SHARED_DIR")) roots.emplace_back(env);
  roots.emplace_back(LATHE_SHARED_DIR);
  roots.emplace_back("/work/shared");
  for (const auto& r : roots) {
    fs::path dir = r / "conformance/chat_templates/templates";
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) seeds.push_back(read_file(e.path()));
    break;
  }
  return seeds;
}

nlohmann::ordered_json fuzz_context() {
  return nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "sys"},
      {"role": "user", "content": "hi"},
      {"role": "assistant", "content": "ok", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
      {"role": "tool", "content": "{\"r\": 2}"},
      {"role": "user", "content": [{"type": "text", "text": "t"}, {"type": "image"}]}],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d",
      "parameters": {"type": "object", "properties": {"a": {"type": "integer"}},
                     "required": ["a"]}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
}

// LATHE_FUZZ_ITERATIONS overrides the iteration count for longer local runs.
int iterations() {
  const char* env = std::getenv("LATHE_FUZZ_ITERATIONS");
  return env ? std::atoi(env) : 3000;
}

// Renders and reports anything but success or lathe::Error; counts successful renders.
::testing::AssertionResult survives(const std::string& source,
                                    const nlohmann::ordered_json& context, int& rendered) {
  try {
    lathe::render_chat_template(source, context);
    ++rendered;
  } catch (const lathe::Error&) {
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure()
           << "non-lathe exception '" << e.what() << "' for template:\n"
           << source;
  }
  return ::testing::AssertionSuccess();
}

std::string mutate(std::string s, std::mt19937& rng) {
  static const char* fragments[] = {
      "{%",       "%}",   "{{",    "}}",     "{#",        "#}",
      "-%}",      "{%-",  "(",     ")",      "[",         "]",
      "{",        "}",    "|",     " is ",   " not ",     "for ",
      "endfor",   "if ",  "endif", "macro ", "endmacro",  "set ",
      "loop.",    "'",    "\"",    "\\",     ",",         ".",
      ":",        "~",    "**",    "//",     "recursive", "range(99999)",
      "caller()", "ns.x", "0"};
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < edits; ++k) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0:  // delete a range
        if (!s.empty()) s.erase(pos, 1 + rng() % 16);
        break;
      case 1:  // duplicate a range
        if (!s.empty() && pos < s.size()) s.insert(pos, s.substr(pos, 1 + rng() % 32));
        break;
      case 2:  // insert a syntax fragment
        s.insert(pos, fragments[rng() % (sizeof(fragments) / sizeof(fragments[0]))]);
        break;
      case 3:  // flip a byte
        if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256);
        break;
      default:  // swap two ranges' order by moving a chunk
        if (s.size() > 8) {
          size_t from = rng() % s.size();
          std::string chunk = s.substr(from, 1 + rng() % 8);
          s.erase(from, chunk.size());
          s.insert(std::min(pos, s.size()), chunk);
        }
    }
  }
  return s;
}

TEST(JinjaFuzz, RandomBytes) {
  std::mt19937 rng(1234);
  auto ctx = fuzz_context();
  static const char alphabet[] = "{}%#-+()[]|.,:~*/'\"\\ \n\tabcdefifornotinis0123456789=<>!";
  int rendered = 0, n = iterations();
  for (int i = 0; i < n; ++i) {
    std::string s(rng() % 64, ' ');
    for (auto& c : s) {
      c = rng() % 3 == 0 ? static_cast<char>(rng() % 256)
                         : alphabet[rng() % (sizeof(alphabet) - 1)];
    }
    // Half the inputs sit inside a tag so the expression parser sees them too.
    if (i % 2) s = (i % 4 == 1 ? "{{ " : "{% ") + s + (i % 4 == 1 ? " }}" : " %}");
    ASSERT_TRUE(survives(s, ctx, rendered)) << "iteration " << i;
  }
  std::printf("random bytes: %d of %d rendered, the rest raised lathe::Error\n", rendered, n);
}

TEST(JinjaFuzz, MutatedTemplates) {
  std::mt19937 rng(42);
  auto ctx = fuzz_context();
  auto seeds = seed_templates();
  ASSERT_FALSE(seeds.empty());
  int rendered = 0, n = iterations();
  for (int i = 0; i < n; ++i) {
    std::string s = mutate(seeds[rng() % seeds.size()], rng);
    ASSERT_TRUE(survives(s, ctx, rendered)) << "iteration " << i;
  }
  std::printf("mutated templates: %d of %d rendered, the rest raised lathe::Error\n", rendered, n);
}

}  // namespace
