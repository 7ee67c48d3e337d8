// Writing an MLX-community-format quantized copy of a Hugging Face model
// folder (what `lathe quantize` does).
#pragma once

#include <cstdint>
#include <string>

#include "lathe/io/weight_store.h"

namespace lathe::io {

struct QuantizeOptions {
  int bits = 4;                           // 2, 3, 4, 5, 6 or 8
  int group_size = 64;                    // 32, 64 or 128
  uint64_t max_shard_bytes = 5ull << 30;  // mlx-lm's default shard size
};

// Whether quantize_folder quantizes this tensor: the rule mlx-lm applies to
// Linear and Embedding modules, read from the weights alone. A tensor named
// `*.weight` with 2 dimensions, a floating dtype and a last dimension
// divisible by group_size. (Norm weights and biases are 1-D, convolutions
// 3-D or more: they stay as they are.)
bool is_quantizable(const TensorInfo& t, int group_size);

// Writes `dst` (which must not exist, or be an empty folder): every
// quantizable `X.weight` becomes `X.weight` (uint32 codes), `X.scales` and
// `X.biases` (in the source dtype; float64 sources give float32) by MLX affine
// quantization; every other tensor is copied unchanged. Weights are written
// as model.safetensors, or model-0000i-of-0000n.safetensors shards of at most
// max_shard_bytes, with a model.safetensors.index.json either way (as mlx-lm
// does) and metadata {"format": "mlx"}. config.json gets "quantization" and
// "quantization_config" = {"group_size", "bits"}; every other regular file of
// `src` that is not a weight file (tokenizer files, generation_config.json,
// chat templates, README) is copied. A pipeline folder or an already quantized
// source is a lathe::Error. Returns the number of tensors quantized.
size_t quantize_folder(const std::string& src, const std::string& dst, const QuantizeOptions& opts);

}  // namespace lathe::io
