// Opening a folder's safetensors files as one name -> array map.
#include "lathe/nn/weights.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "lathe/io/safetensors.h"
#include "lathe/ops/elementwise.h"

namespace lathe::nn {

namespace {

[[noreturn]] void load_error(const std::string& source, const std::string& msg) {
  throw Error("[load_model] " + source + ": " + msg);
}

// The safetensors files of a folder, in a stable order.
std::vector<std::string> weight_files(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  const fs::path index = root / "model.safetensors.index.json";
  if (fs::exists(index)) {
    std::ifstream f(index);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      load_error(index.string(), std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      load_error(index.string(), "missing object field 'weight_map'");
    }
    std::set<std::string> shards;
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string())
        load_error(index.string(), "weight_map['" + name + "'] is not a string");
      shards.insert(file.get<std::string>());
    }
    std::vector<std::string> out;
    for (const auto& s : shards) {
      if (s.find("..") != std::string::npos || s.find('/') != std::string::npos) {
        load_error(index.string(), "shard name '" + s + "' leaves the folder");
      }
      out.push_back((root / s).string());
    }
    return out;
  }
  if (fs::exists(root / "model.safetensors")) return {(root / "model.safetensors").string()};
  std::vector<std::string> out;
  if (fs::is_directory(root)) {
    for (const auto& e : fs::directory_iterator(root)) {
      if (e.path().extension() == ".safetensors") out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) load_error(dir, "no .safetensors weight files");
  return out;
}

}  // namespace

Weights::Weights(std::map<std::string, Array> tensors, std::string source,
                 std::optional<Dtype> dtype)
    : tensors_(std::move(tensors)), source_(std::move(source)), dtype_(dtype) {
  if (!dtype_) {
    for (const auto& [name, a] : tensors_) {
      if (a.dtype().is_floating()) {
        dtype_ = a.dtype();
        break;
      }
    }
  }
}

Weights Weights::open(const std::string& dir, std::optional<Dtype> dtype) {
  std::map<std::string, Array> all;
  for (const auto& file : weight_files(dir)) {
    for (auto& [name, a] : io::load_safetensors(file)) {
      if (all.count(name)) load_error(dir, "tensor '" + name + "' appears in two files");
      all.emplace(name, a);
    }
  }
  return Weights(std::move(all), dir, dtype);
}

Array Weights::convert(const Array& a) const {
  if (!a.dtype().is_floating() || !dtype_ || a.dtype() == *dtype_) return a;
  return astype(a, *dtype_);
}

Array Weights::get_any(const std::string& name) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) load_error(source_, "missing tensor '" + name + "'");
  return convert(it->second);
}

Array Weights::get(const std::string& name, const Shape& shape) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) load_error(source_, "missing tensor '" + name + "'");
  if (it->second.shape() != shape) {
    load_error(source_, "tensor '" + name + "' has shape " + shape_str(it->second.shape()) +
                            ", expected " + shape_str(shape));
  }
  return convert(it->second);
}

std::optional<Array> Weights::get_optional(const std::string& name, const Shape& shape) {
  if (!contains(name)) return std::nullopt;
  return get(name, shape);
}

}  // namespace lathe::nn
