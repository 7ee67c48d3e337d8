// The tensors of a model folder as layers bind them: by Hugging Face name,
// shape-checked (errors name the tensor and both shapes), converted to the
// load dtype, with the folder's quantization config.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "lathe/core/array.h"
#include "lathe/io/quant_config.h"
#include "lathe/io/weight_store.h"

namespace lathe::nn {

class Weights {
 public:
  // Floating tensors are converted to `dtype` when it is given; every tensor
  // handed out is copied to `device` (after the conversion, which runs on the host).
  Weights(io::WeightStore store, io::QuantConfig quant, std::optional<Dtype> dtype = std::nullopt,
          Device device = Device::cpu);
  // The weights and quantization of a Hugging Face folder (io::ModelFolder).
  static Weights open(const std::string& dir, std::optional<Dtype> dtype = std::nullopt,
                      Device device = Device::cpu);

  bool contains(const std::string& name) const { return store_.contains(name); }
  // The tensor `name`, which must have `shape`. Throws lathe::Error naming the
  // tensor when it is missing or shaped otherwise.
  Array get(const std::string& name, const Shape& shape) const;
  // A Linear/Embedding module's parameters, dense or quantized (io::load_linear).
  // `take` sees the stored tensors first and may check or narrow them (a
  // tensor-parallel rank's part), so that only what it keeps is converted.
  io::LinearWeights linear(const std::string& path,
                           const std::function<void(io::LinearWeights&)>& take = {}) const;
  // Renames every tensor starting with `from` (multimodal folders' prefixes).
  void rename_prefix(const std::string& from, const std::string& to);

  // The dtype floating weights load as: the forced one, else the checkpoint's.
  std::optional<Dtype> dtype() const { return dtype_; }
  Device device() const { return device_; }
  const std::string& source() const { return store_.dir(); }

 private:
  Array convert(const Array& a) const;

  io::WeightStore store_;
  io::QuantConfig quant_;
  std::optional<Dtype> dtype_;
  Device device_;
};

}  // namespace lathe::nn
