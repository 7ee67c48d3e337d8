// Linear and embedding layers bound to Hugging Face weight names. A layer is
// quantized when its checkpoint has `<name>.scales`: quantization is a
// property of the weight, never a second copy of the model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lathe/nn/weights.h"

namespace lathe::nn {

// A [rows, cols] matrix as stored: dense, or quantized codes with their
// scales (and biases, for the affine mode).
struct StoredMatrix {
  Array weight;  // [rows, cols], or uint32 codes [rows, cols * bits / 32]
  std::optional<Array> scales, biases;
  QuantSpec quant;

  // Binds `<name>.weight` (and `<name>.scales`/`.biases` when quantized).
  static StoredMatrix bind(Weights& w, const std::string& name, int64_t rows, int64_t cols);
  bool quantized() const { return scales.has_value(); }
  // x [..., cols] @ M^T -> [..., rows].
  Array matmul_transposed(const Array& x) const;
  std::vector<Array> parameters() const;
};

// y = x @ W^T (+ b), W [out, in] as stored by PyTorch.
class Linear {
 public:
  // Binds `<name>.weight` and, when `bias`, `<name>.bias` [out].
  Linear(Weights& w, const std::string& name, int64_t in_features, int64_t out_features, bool bias);
  Array operator()(const Array& x) const;
  std::vector<Array> parameters() const;
  bool quantized() const { return w_.quantized(); }

 private:
  StoredMatrix w_;
  std::optional<Array> bias_;
};

// Token embeddings [vocab, dim]; as_linear() reuses the table as a tied
// output head (logits = x @ table^T).
class Embedding {
 public:
  Embedding(Weights& w, const std::string& name, int64_t vocab, int64_t dim);
  // ids of any shape -> ids.shape + [dim], in the table's (or scales') dtype.
  Array operator()(const Array& ids) const;
  Array as_linear(const Array& x) const { return w_.matmul_transposed(x); }
  std::vector<Array> parameters() const { return w_.parameters(); }

 private:
  StoredMatrix w_;
};

}  // namespace lathe::nn
