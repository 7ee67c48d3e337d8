// `lathe quantize SRC DST [--bits 4|8] [--group-size 32|64|128]`: see
// io::quantize_folder for what is quantized and what is copied.
#include "lathe/cli/quantize_cmd.h"

#include <cstdio>
#include <string>
#include <vector>

#include "lathe/core/error.h"
#include "lathe/io/quantize_folder.h"

namespace lathe::cli {

namespace {

int parse_int(const std::string& opt, const std::string& v) {
  if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
    throw Error("[quantize] " + opt + " needs a number, got '" + v + "'");
  return std::stoi(v);
}

}  // namespace

int quantize_command(int argc, char** argv) {
  io::QuantizeOptions opts;
  std::vector<std::string> paths;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    std::string value;
    std::string name = s.substr(0, s.find('='));
    if (name == "--bits" || name == "--group-size") {
      if (s.size() > name.size()) {
        value = s.substr(name.size() + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw Error("[quantize] " + name + " needs a value");
      }
      (name == "--bits" ? opts.bits : opts.group_size) = parse_int(name, value);
    } else if (!s.empty() && s[0] == '-') {
      throw Error("[quantize] unknown option '" + s + "'");
    } else {
      paths.push_back(s);
    }
  }
  if (paths.size() != 2) {
    std::fprintf(stderr, "usage: lathe quantize SRC DST [--bits 4|8] [--group-size 32|64|128]\n");
    return 2;
  }
  size_t n = io::quantize_folder(paths[0], paths[1], opts);
  std::fprintf(stderr, "quantized %zu weights to %d bits (group size %d) into %s\n", n, opts.bits,
               opts.group_size, paths[1].c_str());
  return 0;
}

}  // namespace lathe::cli
