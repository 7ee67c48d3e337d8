// `lathe tokenize DIR [--text TEXT] [--add-special]` prints ids as a JSON array;
// `lathe detokenize DIR --ids 1,2,3 [--skip-special]` prints the decoded text.
#include "lathe/cli/tokenize_cmd.h"

#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "lathe/core/error.h"
#include "lathe/text/tokenizer.h"

namespace lathe::cli {

namespace {

struct Args {
  std::string dir;
  std::optional<std::string> value;  // --text or --ids
  bool flag = false;                 // --add-special or --skip-special
};

Args parse(int argc, char** argv, const std::string& cmd, const std::string& value_opt,
           const std::string& flag_opt) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s == value_opt) {
      if (i + 1 >= argc) throw Error("[" + cmd + "] " + value_opt + " needs a value");
      a.value = argv[++i];
    } else if (s.rfind(value_opt + "=", 0) == 0) {
      a.value = s.substr(value_opt.size() + 1);
    } else if (s == flag_opt) {
      a.flag = true;
    } else if (!s.empty() && s[0] == '-' && s != "-") {
      throw Error("[" + cmd + "] unknown option '" + s + "'");
    } else if (a.dir.empty()) {
      a.dir = s;
    } else {
      throw Error("[" + cmd + "] unexpected argument '" + s + "'");
    }
  }
  if (a.dir.empty()) throw Error("[" + cmd + "] missing the model directory");
  return a;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string part = s.substr(i, j - i);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos ||
        part.size() > 10 || std::stoll(part) > INT32_MAX)
      throw Error("[detokenize] bad id '" + part + "' in --ids");
    ids.push_back(static_cast<int32_t>(std::stoll(part)));
    i = j + 1;
  }
  return ids;
}

}  // namespace

int tokenize_command(int argc, char** argv) {
  Args a = parse(argc, argv, "tokenize", "--text", "--add-special");
  std::string text;
  if (a.value) {
    text = *a.value;
  } else {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto tok = text::Tokenizer::from_dir(a.dir);
  auto ids = tok.encode(text, a.flag);
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(ids[i]);
  }
  out += "]\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int detokenize_command(int argc, char** argv) {
  Args a = parse(argc, argv, "detokenize", "--ids", "--skip-special");
  if (!a.value) throw Error("[detokenize] --ids is required");
  auto ids = parse_ids(*a.value);
  auto tok = text::Tokenizer::from_dir(a.dir);
  std::string out = tok.decode(ids, a.flag);
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace lathe::cli
