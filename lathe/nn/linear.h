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
  io::LinearWeights w;

  // Binds module `name` (io::load_linear) and checks it holds a [rows, cols]
  // matrix; errors name the tensor and both shapes.
  static StoredMatrix bind(const Weights& weights, const std::string& name, int64_t rows,
                           int64_t cols);
  bool quantized() const { return w.quantized(); }
  // x [..., cols] @ M^T -> [..., rows].
  Array matmul_transposed(const Array& x) const;
  // Rows `ids` (any shape) -> ids.shape + [cols], dequantized when quantized.
  Array rows(const Array& ids) const;
  std::vector<Array> parameters() const;
};

// y = x @ W^T (+ b), W [out, in] as stored by PyTorch.
class Linear {
 public:
  // Binds `<name>.weight` and, when `bias`, `<name>.bias` [out] (a bias the
  // config does not call for is ignored, as transformers does).
  Linear(const Weights& w, const std::string& name, int64_t in_features, int64_t out_features,
         bool bias);
  Array operator()(const Array& x) const;
  std::vector<Array> parameters() const;
  bool quantized() const { return m_.quantized(); }

 private:
  StoredMatrix m_;
  std::optional<Array> bias_;
};

// Token embeddings [vocab, dim]; as_linear() reuses the table as a tied
// output head (logits = x @ table^T).
class Embedding {
 public:
  Embedding(const Weights& w, const std::string& name, int64_t vocab, int64_t dim);
  // ids of any shape -> ids.shape + [dim].
  Array operator()(const Array& ids) const { return m_.rows(ids); }
  Array as_linear(const Array& x) const { return m_.matmul_transposed(x); }
  std::vector<Array> parameters() const { return m_.parameters(); }
  // The dtype lookups come out in.
  Dtype dtype() const;

 private:
  StoredMatrix m_;
};

}  // namespace lathe::nn
