// The tensors of a model folder, looked up by their Hugging Face names, with
// shape checks whose errors name the tensor and both shapes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe::nn {

// How quantized weights (uint32 codes + scales [+ biases]) were packed; see
// lathe/ops/quantized.h. From config.json's "quantization".
struct QuantSpec {
  int group_size = 64;
  int bits = 4;
  std::string mode = "affine";
};

class Weights {
 public:
  // `source` names the folder in errors. Floating tensors are converted to
  // `dtype` when it is given.
  Weights(std::map<std::string, Array> tensors, std::string source,
          std::optional<Dtype> dtype = std::nullopt);
  // Every tensor of the folder's safetensors files: model.safetensors, the
  // shards listed by model.safetensors.index.json, or all *.safetensors.
  static Weights open(const std::string& dir, std::optional<Dtype> dtype = std::nullopt);

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor `name`, which must have `shape` (floating tensors converted to
  // the load dtype). Throws lathe::Error naming the tensor when it is missing
  // or shaped otherwise.
  Array get(const std::string& name, const Shape& shape);
  std::optional<Array> get_optional(const std::string& name, const Shape& shape);
  // A floating tensor of any shape (for checks made by the caller).
  Array get_any(const std::string& name);

  const std::optional<QuantSpec>& quantization() const { return quantization_; }
  void set_quantization(std::optional<QuantSpec> q) { quantization_ = std::move(q); }
  // The dtype floating weights load as (the first tensor's when not forced).
  std::optional<Dtype> dtype() const { return dtype_; }
  const std::string& source() const { return source_; }

 private:
  Array convert(const Array& a) const;

  std::map<std::string, Array> tensors_;
  std::string source_;
  std::optional<Dtype> dtype_;
  std::optional<QuantSpec> quantization_;
};

}  // namespace lathe::nn
