// Finding a folder's safetensors files, validating a shard index against the
// shards' headers, and the name-level views (prefixes, renames) of the store.
#include "lathe/io/weight_store.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lathe/core/error.h"
#include "lathe/io/json_file.h"

namespace lathe::io {

namespace fs = std::filesystem;

namespace {

const char* const kBases[] = {"model", "diffusion_pytorch_model"};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A shard name must be a plain file name: anything else could reach outside
// the folder.
bool plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

std::string join_label(const std::string& label, const std::string& file) { return label + file; }

}  // namespace

std::optional<WeightFiles> find_weight_files(const std::string& dir) {
  fs::path d(dir);
  for (const char* base : kBases) {
    std::string single = std::string(base) + ".safetensors";
    if (is_file(d / single)) return WeightFiles{std::nullopt, {single}};
    std::string index = single + ".index.json";
    if (is_file(d / index)) return WeightFiles{index, {}};
  }
  std::error_code ec;
  fs::directory_iterator it(d, ec), end;
  if (ec) return std::nullopt;
  WeightFiles loose;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    std::string name = it->path().filename().string();
    if (ends_with(name, ".safetensors") && is_file(it->path())) loose.files.push_back(name);
  }
  if (loose.files.empty()) return std::nullopt;
  std::sort(loose.files.begin(), loose.files.end());
  return loose;
}

WeightStore WeightStore::open(const std::string& dir, const std::string& label) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("[model_folder] " + dir + " is not a folder");
  auto found = find_weight_files(dir);
  if (!found)
    throw Error("[model_folder] " + dir +
                ": no weights (looked for model.safetensors, model.safetensors.index.json, "
                "diffusion_pytorch_model.safetensors[.index.json] and *.safetensors)");
  WeightStore s;
  s.dir_ = dir;
  fs::path d(dir);

  auto add = [&](const std::shared_ptr<SafetensorsFile>& f, const std::string& file,
                 const StTensor& t) {
    auto [it, fresh] = s.entries_.try_emplace(t.name);
    if (!fresh)
      throw Error("[model_folder] " + dir + ": tensor '" + t.name + "' appears in both " +
                  it->second.info.file + " and " + join_label(label, file));
    it->second = Entry{f, t.name, TensorInfo{t.name, t.dtype, t.shape, join_label(label, file)}};
  };

  if (!found->index) {
    for (const auto& file : found->files) {
      auto f = SafetensorsFile::open((d / file).string());
      for (const auto& t : f->header().tensors) add(f, file, t);
    }
    return s;
  }

  // Sharded: the index names, for every tensor, the one shard that holds it.
  const std::string index_path = (d / *found->index).string();
  nlohmann::json j = read_json_file(index_path, "model_folder");
  auto bad = [&](const std::string& what) -> Error {
    return Error("[model_folder] " + index_path + ": " + what);
  };
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw bad("expected an object with a \"weight_map\" object");
  std::map<std::string, std::string> tensor_to_shard;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (const auto& [tensor, shard_v] : j["weight_map"].items()) {
    if (!shard_v.is_string()) throw bad("weight_map entry '" + tensor + "' is not a file name");
    std::string shard = shard_v.get<std::string>();
    if (!plain_file_name(shard))
      throw bad("tensor '" + tensor + "' names shard '" + shard +
                "', which is not a plain file name inside the folder");
    tensor_to_shard[tensor] = shard;
    if (!shards.count(shard)) {
      if (!is_file(d / shard))
        throw bad("tensor '" + tensor + "' names shard '" + shard + "', which does not exist");
      shards[shard] = SafetensorsFile::open((d / shard).string());
    }
  }
  for (const auto& [tensor, shard] : tensor_to_shard) {
    if (!shards[shard]->contains(tensor))
      throw bad("tensor '" + tensor + "' is listed in shard '" + shard +
                "', which does not contain it");
  }
  // Every shard is read whole, as transformers does: a tensor the index does
  // not list still loads, but one that two shards hold is ambiguous.
  for (const auto& [shard, f] : shards) {
    for (const auto& t : f->header().tensors) {
      auto listed = tensor_to_shard.find(t.name);
      if (listed != tensor_to_shard.end() && listed->second != shard)
        throw bad("tensor '" + t.name + "' appears in both " + listed->second + " and " + shard);
      add(f, shard, t);
    }
  }
  return s;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [n, e] : entries_) out.push_back(n);
  return out;
}

const TensorInfo& WeightStore::info(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw Error("[model_folder] " + dir_ + ": no tensor named '" + name + "'");
  return it->second.info;
}

std::vector<TensorInfo> WeightStore::infos() const {
  std::vector<TensorInfo> out;
  out.reserve(entries_.size());
  for (const auto& [n, e] : entries_) out.push_back(e.info);
  return out;
}

Array WeightStore::get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw Error("[model_folder] " + dir_ + ": no tensor named '" + name + "'");
  return it->second.file->load(it->second.stored_name);
}

std::optional<Array> WeightStore::get_if(const std::string& name) const {
  if (!contains(name)) return std::nullopt;
  return get(name);
}

WeightStore WeightStore::remap(
    const std::function<std::optional<std::string>(const std::string&)>& fn) const {
  WeightStore out;
  out.dir_ = dir_;
  for (const auto& [name, e] : entries_) {
    auto to = fn(name);
    if (!to) continue;
    auto [it, fresh] = out.entries_.try_emplace(*to, e);
    if (!fresh)
      throw Error("[model_folder] " + dir_ + ": renaming maps both '" + it->second.info.name +
                  "' and '" + name + "' to '" + *to + "'");
    it->second.info.name = *to;
  }
  return out;
}

WeightStore WeightStore::take_prefix(const std::string& prefix) const {
  return remap([&](const std::string& n) -> std::optional<std::string> {
    if (n.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    return n.substr(prefix.size());
  });
}

WeightStore WeightStore::rename_prefix(const std::string& from, const std::string& to) const {
  return remap([&](const std::string& n) -> std::optional<std::string> {
    if (n.compare(0, from.size(), from) != 0) return n;
    return to + n.substr(from.size());
  });
}

void WeightStore::merge(const WeightStore& other) {
  for (const auto& [name, e] : other.entries_) {
    auto [it, fresh] = entries_.try_emplace(name, e);
    if (!fresh)
      throw Error("[model_folder] tensor '" + name + "' appears in both " + it->second.info.file +
                  " and " + e.info.file);
  }
  if (dir_.empty()) dir_ = other.dir_;
}

}  // namespace lathe::io
