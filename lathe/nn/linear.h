// Linear and embedding layers bound to Hugging Face weight names. A layer is
// quantized when its checkpoint has `<name>.scales`: quantization is a
// property of the weight, never a second copy of the model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lathe/nn/shard.h"
#include "lathe/nn/weights.h"

namespace lathe::nn {

// A [rows, cols] matrix as stored: dense, or quantized codes with their
// scales (and biases, for the affine mode).
// Rows (axis 0) or columns (axis 1) [begin, end): a tensor-parallel rank's
// part of a matrix. axis -1: all of it.
struct MatrixPart {
  int axis = -1;
  int64_t begin = 0, end = 0;
};

struct StoredMatrix {
  io::LinearWeights w;

  // Binds module `name` (io::load_linear) and checks it holds a [rows, cols]
  // matrix; errors name the tensor and both shapes. Then keeps only `part`
  // (quantized columns only in whole groups), before any dtype conversion.
  static StoredMatrix bind(const Weights& weights, const std::string& name, int64_t rows,
                           int64_t cols, const MatrixPart& part = {});
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
  // config does not call for is ignored, as transformers does). in/out are
  // the whole layer's features; `split` says which part this rank holds.
  Linear(const Weights& w, const std::string& name, int64_t in_features, int64_t out_features,
         bool bias, const LinearSplit& split = {});
  Array operator()(const Array& x) const;
  std::vector<Array> parameters() const;
  bool quantized() const { return m_.quantized(); }
  // The output features this rank computes.
  int64_t local_out_features() const;
  // One layer whose rows are `parts`' rows stacked in order (they read the same input), or
  // nothing when they cannot be stacked: different dtypes or quantization, a bias on some
  // but not all, or a split that sums or gathers outputs across ranks.
  static std::optional<Linear> stack(const std::vector<Linear>& parts);

 private:
  StoredMatrix m_;
  std::optional<Array> bias_;
  LinearSplit split_;
  int64_t out_features_;
};

// Linear layers that read the same input (q/k/v, gate/up). Stacked into one matmul when
// `fuse` and they allow it (Linear::stack), else run one by one; outputs come back per
// layer either way (views of the stacked product when fused).
class LinearGroup {
 public:
  LinearGroup(std::vector<Linear> parts, bool fuse);
  std::vector<Array> operator()(const Array& x) const;
  // The stacked product [..., sum of the parts' features] (requires fused()).
  Array stacked(const Array& x) const;
  std::vector<Array> parameters() const;
  bool fused() const { return stacked_.has_value(); }

 private:
  std::vector<Linear> parts_;  // empty when stacked
  std::optional<Linear> stacked_;
  std::vector<int64_t> sizes_;
};

// Whether layers loaded from `w` stack their projections: on the GPU, where one wide
// matmul beats several narrow ones and the weights are copied anyway (on the CPU they stay
// zero-copy views of the checkpoint file). LATHE_FUSE_PROJECTIONS=0 or 1 overrides.
bool fuse_projections(const Weights& w);

// Token embeddings [vocab, dim]; as_linear() reuses the table as a tied
// output head (logits = x @ table^T). Split across ranks by vocabulary: each
// rank holds ceil(vocab / size) rows (the last rank fewer), looks up the ids
// it holds (zeros elsewhere) and the ranks' rows are summed; as a head each
// rank computes its logits and the ranks' are gathered.
class Embedding {
 public:
  Embedding(const Weights& w, const std::string& name, int64_t vocab, int64_t dim,
            const Shard& shard = {});
  // ids of any shape -> ids.shape + [dim]. An id outside the vocabulary makes
  // eval() throw, split or not.
  Array operator()(const Array& ids) const;
  // x [..., dim] -> logits [..., vocab].
  Array as_linear(const Array& x) const;
  std::vector<Array> parameters() const { return m_.parameters(); }
  // The dtype lookups come out in.
  Dtype dtype() const;

 private:
  StoredMatrix m_;
  Shard shard_;
  int64_t vocab_ = 0, begin_ = 0, end_ = 0;  // this rank's rows [begin_, end_)
};

}  // namespace lathe::nn
