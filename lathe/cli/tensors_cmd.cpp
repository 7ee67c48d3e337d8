// `lathe tensors MODEL_DIR` prints "name<TAB>dtype<TAB>shape<TAB>file" per
// tensor, sorted by name. MODEL_DIR may be a model folder (single, sharded or
// loose safetensors), a diffusers pipeline folder (names become
// "component/name") or a single .safetensors file. Every header and index is
// validated first; any damage is a lathe::Error and nothing is printed.
#include "lathe/cli/tensors_cmd.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "lathe/core/error.h"
#include "lathe/io/model_folder.h"

namespace lathe::cli {

namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

std::vector<io::TensorInfo> collect(const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(target, ec)) {
    auto f = io::SafetensorsFile::open(target);
    std::vector<io::TensorInfo> out;
    std::string file = fs::path(target).filename().string();
    for (const auto& t : f->header().tensors) out.push_back({t.name, t.dtype, t.shape, file});
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }
  if (!fs::is_directory(target, ec)) throw Error("[tensors] " + target + " does not exist");
  if (!io::PipelineFolder::is_pipeline(target)) return io::WeightStore::open(target).infos();
  auto p = io::PipelineFolder::open(target);
  std::vector<io::TensorInfo> out;
  for (const auto& c : p.components()) {
    if (!c.has_weights) continue;
    for (auto t : io::WeightStore::open(p.component_dir(c.name), c.name + "/").infos()) {
      t.name = c.name + "/" + t.name;
      out.push_back(std::move(t));
    }
  }
  if (out.empty()) throw Error("[tensors] " + target + ": no component has weights");
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace

int tensors_command(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: lathe tensors MODEL_DIR\n");
    return 2;
  }
  auto infos = collect(argv[2]);
  std::string out;
  for (const auto& t : infos) {
    out += t.name + "\t" + io::st_name(t.dtype) + "\t" + shape_text(t.shape) + "\t" + t.file + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace lathe::cli
