// The weights of one Hugging Face model folder: every tensor of its
// safetensors files (single, sharded with an index, or loose), by name, lazy.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lathe/core/array.h"
#include "lathe/io/safetensors.h"

namespace lathe::io {

struct TensorInfo {
  std::string name;
  StDtype dtype;  // as stored in the file (load_dtype() gives the array dtype)
  std::vector<int64_t> shape;
  std::string file;  // relative to the store's root folder
};

// Which files hold a folder's weights. Tried in order, the first match wins
// (as transformers and diffusers do; mlx-community folders use the same names):
//   1. model.safetensors                 2. model.safetensors.index.json + shards
//   3. diffusion_pytorch_model.safetensors
//   4. diffusion_pytorch_model.safetensors.index.json + shards
//   5. every other *.safetensors file of the folder (consolidated.safetensors,
//      weights.00.safetensors, index-less shards); a name in two files is an error.
// So a consolidated.safetensors next to model*.safetensors is ignored, and
// shards the index does not reference are ignored.
struct WeightFiles {
  std::optional<std::string> index;  // the index file's name, when sharded
  std::vector<std::string> files;    // plain file names inside the folder
};
std::optional<WeightFiles> find_weight_files(const std::string& dir);

class WeightStore {
 public:
  WeightStore() = default;

  // Opens the weights of `dir` by the rule above and validates every header
  // and the index; throws lathe::Error naming the file and tensor. `label`
  // prefixes the file names reported by info() (e.g. "transformer/").
  static WeightStore open(const std::string& dir, const std::string& label = "");

  const std::string& dir() const { return dir_; }
  size_t size() const { return entries_.size(); }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<std::string> names() const;  // sorted
  const TensorInfo& info(const std::string& name) const;
  std::vector<TensorInfo> infos() const;  // sorted by name

  // A lazy array reading the tensor's bytes when evaluated (zero-copy where
  // possible). A missing name is a lathe::Error naming the folder.
  Array get(const std::string& name) const;
  std::optional<Array> get_if(const std::string& name) const;

  // The tensors whose names start with `prefix`, with the prefix removed
  // (e.g. take_prefix("language_model.") of a multimodal checkpoint).
  WeightStore take_prefix(const std::string& prefix) const;
  // Every name starting with `from` gets `to` instead; others are unchanged.
  WeightStore rename_prefix(const std::string& from, const std::string& to) const;
  // General renaming: `fn` returns the new name, or nullopt to drop the tensor.
  // Two tensors mapped to one name is a lathe::Error.
  WeightStore remap(const std::function<std::optional<std::string>(const std::string&)>& fn) const;
  // Adds the tensors of `other` (a name in both is a lathe::Error).
  void merge(const WeightStore& other);

 private:
  struct Entry {
    std::shared_ptr<SafetensorsFile> file;
    std::string stored_name;  // the name inside the file
    TensorInfo info;
  };
  std::string dir_;
  std::map<std::string, Entry> entries_;
};

}  // namespace lathe::io
