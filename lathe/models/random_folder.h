// Random-weight model folders of any config.json: the tensor names and shapes
// transformers and lathe's loader expect for an architecture, filled with seeded
// values. Benchmarks use them to run real model shapes without a download.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

struct WeightSpec {
  enum class Init { matrix, ones, zeros };
  std::string name;
  Shape shape;
  Init init = Init::matrix;
};

// Every tensor of the checkpoint that dir/config.json describes (model_type llama,
// mistral, qwen2, qwen3, gemma3_text, or gemma3 whose language model only is listed, under
// the language_model.model. names transformers saves; its vision tower is not written),
// in layer order. Unknown model types and malformed configs throw
// lathe::Error("[make_random] ...").
std::vector<WeightSpec> checkpoint_weights(const std::string& dir);

struct RandomFolderOptions {
  Dtype dtype = bfloat16;  // float32, float16 or bfloat16
  uint64_t seed = 0;
  // Standard deviation of the matrices' values (uniform, zero mean).
  float std = 0.02f;
};

// Writes out_dir/config.json (the given one, with torch_dtype set) and
// out_dir/model.safetensors holding checkpoint_weights(config_path). No tokenizer:
// run it with --prompt-ids. Returns the number of bytes of weights written.
uint64_t write_random_folder(const std::string& config_path, const std::string& out_dir,
                             const RandomFolderOptions& opts);

}  // namespace lathe
