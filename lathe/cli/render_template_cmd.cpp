// `lathe render-template`: renders a Jinja chat template with a JSON context file, printing
// the result byte for byte so it can be diffed against transformers' apply_chat_template.
#include "lathe/cli/render_template_cmd.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "lathe/core/error.h"
#include "lathe/text/chat_template.h"

namespace lathe::cli {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("[render-template] cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int usage() {
  std::fprintf(stderr,
               "usage: lathe render-template TEMPLATE_FILE CONTEXT_JSON [--now ISO8601]\n"
               "  CONTEXT_JSON is a file holding a JSON object (messages, "
               "add_generation_prompt, ...)\n"
               "  --now pins strftime_now(), e.g. 2025-07-10T12:00:00\n");
  return 2;
}

}  // namespace

int render_template_command(int argc, char** argv) {
  std::string files[2];
  int nfiles = 0;
  ChatTemplateOptions options;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--now") {
        if (i + 1 >= argc) return usage();
        options.now = parse_iso8601(argv[++i]);
      } else if (a.rfind("--now=", 0) == 0) {
        options.now = parse_iso8601(a.substr(6));
      } else if (a == "-h" || a == "--help") {
        usage();
        return 0;
      } else if (!a.empty() && a[0] == '-' && a != "-") {
        std::fprintf(stderr, "lathe render-template: unknown option '%s'\n", a.c_str());
        return usage();
      } else {
        if (nfiles == 2) return usage();
        files[nfiles++] = a;
      }
    }
    if (nfiles != 2) return usage();
    std::string source = read_all(files[0]);
    nlohmann::ordered_json context;
    try {
      context = nlohmann::ordered_json::parse(read_all(files[1]));
    } catch (const nlohmann::json::exception& e) {
      throw Error("[render-template] " + files[1] + " is not valid JSON: " + e.what());
    }
    std::string out = render_chat_template(source, context, options);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "lathe render-template: %s\n", e.what());
    return 1;
  }
}

}  // namespace lathe::cli
