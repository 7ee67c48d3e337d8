// The Jinja engine against Python's jinja2: small templates covering whitespace control,
// literals, operators, access, loops, scoping, macros, tests, filters, tojson and methods.
// Expected strings come from jinja2 (tests/data/text/jinja_cases.json, written by
// scripts/jinja_reference.py), never from lathe.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lathe/core/error.h"
#include "lathe/text/chat_template.h"

namespace {

std::string render(const std::string& source, const nlohmann::ordered_json& context = {}) {
  lathe::ChatTemplateOptions options;
  options.now = lathe::parse_iso8601("2025-07-10T12:00:00");
  return lathe::render_chat_template(
      source, context.is_null() ? nlohmann::ordered_json::object() : context, options);
}

std::string error_of(const std::string& source, const nlohmann::ordered_json& context = {}) {
  try {
    render(source, context);
  } catch (const lathe::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Jinja, MatchesJinja2Reference) {
  std::ifstream f(std::string(LATHE_SOURCE_DIR) + "/tests/data/text/jinja_cases.json");
  ASSERT_TRUE(f) << "missing tests/data/text/jinja_cases.json";
  std::stringstream ss;
  ss << f.rdbuf();
  auto doc = nlohmann::ordered_json::parse(ss.str());
  int passed = 0, total = 0;
  for (const auto& c : doc["cases"]) {
    ++total;
    std::string name = c["name"].get<std::string>();
    std::string source = c["template"].get<std::string>();
    std::string got, error;
    try {
      got = render(source, c["context"]);
    } catch (const lathe::Error& e) {
      error = e.what();
    }
    if (c.contains("expected_error")) {
      // Runtime errors carry jinja2's own "Kind: message"; syntax errors only need to fail.
      std::string want = c["expected_error"].get<std::string>();
      bool syntax = want.rfind("TemplateSyntaxError", 0) == 0 ||
                    want.rfind("SyntaxError", 0) == 0 || name == "syntax/include";
      bool ok = !error.empty() && (syntax || error.find(want) != std::string::npos);
      EXPECT_TRUE(ok) << name << ": want error '" << want << "', got error '" << error
                      << "', output '" << got << "'";
      passed += ok;
      continue;
    }
    std::string want = c["expected"].get<std::string>();
    EXPECT_EQ(error, "") << name;
    EXPECT_EQ(got, want) << name << "\ntemplate: " << source;
    passed += error.empty() && got == want;
  }
  std::printf("jinja2 reference cases: %d / %d pass\n", passed, total);
}

TEST(Jinja, SyntaxErrorsNameLineAndColumn) {
  std::string e = error_of("line one\n{% if x %}\n  {{ 1 + }}\n{% endif %}");
  EXPECT_NE(e.find("syntax error at line 3, column"), std::string::npos) << e;
  e = error_of("{{ 'a' }}\n\n{% for x in y %}");
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  EXPECT_NE(e.find("'endfor'"), std::string::npos) << e;
  e = error_of("ab\n  {{ x | }}");
  EXPECT_NE(e.find("line 2, column 10"), std::string::npos) << e;
}

TEST(Jinja, RuntimeErrorsNameLineAndConstruct) {
  std::string e = error_of("a\nb\n{{ 'x' + 1 }}");
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  EXPECT_NE(e.find("TypeError"), std::string::npos) << e;
  e = error_of("{% macro m() %}\n{{ raise_exception('bad role') }}{% endmacro %}\n{{ m() }}");
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("bad role"), std::string::npos) << e;
  EXPECT_NE(error_of("{{ 'a' | nosuch }}").find("nosuch"), std::string::npos);
}

TEST(Jinja, ContextKeepsKeyOrderAndTypes) {
  auto ctx = nlohmann::ordered_json::parse(
      R"({"d": {"zeta": 1, "alpha": 2.0, "mid": [true, null, "s"]}, "big": 9007199254740993})");
  EXPECT_EQ(render("{{ d | tojson }}|{{ d }}|{{ big }}", ctx),
            "{\"zeta\": 1, \"alpha\": 2.0, \"mid\": [true, null, \"s\"]}|"
            "{'zeta': 1, 'alpha': 2.0, 'mid': [True, None, 's']}|9007199254740993");
}

TEST(Jinja, LimitsStopRunawayTemplates) {
  // Unbounded recursion, huge loops and exponential growth end in errors, not hangs.
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("depth"),
            std::string::npos);
  EXPECT_NE(error_of("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
                     "{% endfor %}")
                .find("step budget"),
            std::string::npos);
  EXPECT_FALSE(error_of("{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
                        "{% set ns.s = ns.s + ns.s %}{% endfor %}")
                   .empty());
  EXPECT_FALSE(error_of("{{ 'x' * 10000000000 }}").empty());
  EXPECT_FALSE(
      error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").empty());
}

TEST(Jinja, StrftimeNowIsPinned) {
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}"), "10 Jul 2025");
}

TEST(Jinja, NonObjectContextIsRejected) {
  EXPECT_THROW(lathe::render_chat_template("x", nlohmann::ordered_json::array()), lathe::Error);
}

}  // namespace
