// JSON files with errors that name the file.
#include "lathe/io/json_file.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "lathe/core/error.h"

namespace lathe::io {

nlohmann::json read_json_file(const std::string& path, const std::string& op) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("[" + op + "] cannot open " + path);
  f.seekg(0, std::ios::end);
  auto size = static_cast<long long>(f.tellg());
  if (size < 0) throw Error("[" + op + "] cannot read " + path);
  if (size > (256LL << 20)) throw Error("[" + op + "] " + path + " is too large for a JSON file");
  f.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  if (!f.read(text.data(), size)) throw Error("[" + op + "] cannot read " + path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("[" + op + "] " + path + " is not valid JSON: " + e.what());
  }
}

void write_json_file(const std::string& path, const nlohmann::json& j, const std::string& op) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw Error("[" + op + "] cannot write " + path);
    f << j.dump(4) << "\n";
    if (!f) throw Error("[" + op + "] writing " + path + " failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("[" + op + "] cannot move " + tmp + " to " + path);
  }
}

}  // namespace lathe::io
