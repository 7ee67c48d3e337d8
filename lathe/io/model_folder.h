// A Hugging Face model folder exactly as downloaded (config.json,
// generation_config.json, safetensors weights), and diffusers pipeline folders
// (model_index.json with one subfolder per component).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lathe/io/quant_config.h"
#include "lathe/io/weight_store.h"

namespace lathe::io {

class ModelFolder {
 public:
  // Reads config.json (required), generation_config.json (optional), the
  // quantization entries and the weights (see find_weight_files); every header
  // and the index are validated now, no tensor data is read. Throws
  // lathe::Error naming the file. `label` prefixes reported file names.
  static ModelFolder open(const std::string& dir, const std::string& label = "");

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  const std::optional<nlohmann::json>& generation_config() const { return generation_config_; }
  const QuantConfig& quant() const { return quant_; }
  const WeightStore& weights() const { return weights_; }
  // The quantized-or-dense parameters of a Linear/Embedding module.
  LinearWeights linear(const std::string& module_path) const {
    return load_linear(weights_, module_path, quant_);
  }

 private:
  std::string dir_;
  nlohmann::json config_;
  std::optional<nlohmann::json> generation_config_;
  QuantConfig quant_;
  WeightStore weights_;
};

struct PipelineComponent {
  std::string name;        // the subfolder, e.g. "transformer"
  std::string library;     // e.g. "diffusers", "transformers"
  std::string class_name;  // e.g. "FluxTransformer2DModel"
  bool has_weights = false;
};

class PipelineFolder {
 public:
  // True when `dir` holds a model_index.json.
  static bool is_pipeline(const std::string& dir);
  // Reads model_index.json: every entry ["library", "ClassName"] is a
  // component whose subfolder must exist (entries with null are absent
  // optional components and are skipped). Throws lathe::Error naming the file.
  static PipelineFolder open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const std::string& class_name() const { return class_name_; }  // "_class_name"
  const nlohmann::json& model_index() const { return index_; }
  const std::vector<PipelineComponent>& components() const { return components_; }
  const PipelineComponent& component(const std::string& name) const;
  std::string component_dir(const std::string& name) const;
  // The component's folder (config.json + weights), file names reported as
  // "<name>/<file>". A component without weights (tokenizer, scheduler) is a
  // lathe::Error.
  ModelFolder open_component(const std::string& name) const;

 private:
  std::string dir_;
  std::string class_name_;
  nlohmann::json index_;
  std::vector<PipelineComponent> components_;
};

}  // namespace lathe::io
