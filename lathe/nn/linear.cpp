// Dense and quantized linear layers and embeddings.
#include "lathe/nn/linear.h"

#include "lathe/ops/elementwise.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/linalg.h"
#include "lathe/ops/quantized.h"
#include "lathe/ops/shape.h"

namespace lathe::nn {

StoredMatrix StoredMatrix::bind(Weights& w, const std::string& name, int64_t rows, int64_t cols) {
  const std::string weight_name = name + ".weight";
  if (!w.contains(name + ".scales")) {
    return StoredMatrix{w.get(weight_name, {rows, cols}), std::nullopt, std::nullopt, {}};
  }
  if (!w.quantization()) {
    throw Error("[load_model] " + w.source() + ": tensor '" + name +
                ".scales' is present but config.json has no \"quantization\"");
  }
  const QuantSpec q = *w.quantization();
  if (q.group_size <= 0 || cols % q.group_size != 0 || (cols * q.bits) % 32 != 0) {
    throw Error("[load_model] " + w.source() + ": '" + weight_name + "' with " +
                std::to_string(cols) + " columns cannot be quantized with group_size " +
                std::to_string(q.group_size) + " and bits " + std::to_string(q.bits));
  }
  StoredMatrix m{w.get(weight_name, {rows, cols * q.bits / 32}),
                 w.get(name + ".scales", {rows, cols / q.group_size}), std::nullopt, q};
  if (q.mode == "affine") m.biases = w.get(name + ".biases", {rows, cols / q.group_size});
  return m;
}

Array StoredMatrix::matmul_transposed(const Array& x) const {
  if (!quantized()) return matmul(x, transpose(weight));
  return quantized_matmul(x, weight, *scales, biases, true, quant.group_size, quant.bits,
                          quant.mode);
}

std::vector<Array> StoredMatrix::parameters() const {
  std::vector<Array> out{weight};
  if (scales) out.push_back(*scales);
  if (biases) out.push_back(*biases);
  return out;
}

Linear::Linear(Weights& w, const std::string& name, int64_t in_features, int64_t out_features,
               bool bias)
    : w_(StoredMatrix::bind(w, name, out_features, in_features)) {
  if (bias) bias_ = w.get(name + ".bias", {out_features});
}

Array Linear::operator()(const Array& x) const {
  Array y = w_.matmul_transposed(x);
  return bias_ ? y + *bias_ : y;
}

std::vector<Array> Linear::parameters() const {
  std::vector<Array> out = w_.parameters();
  if (bias_) out.push_back(*bias_);
  return out;
}

Embedding::Embedding(Weights& w, const std::string& name, int64_t vocab, int64_t dim)
    : w_(StoredMatrix::bind(w, name, vocab, dim)) {}

Array Embedding::operator()(const Array& ids) const {
  if (!w_.quantized()) return gather(w_.weight, ids);
  // Dequantize only the rows looked up.
  Array rows = gather(w_.weight, ids);
  Array scales = gather(*w_.scales, ids);
  std::optional<Array> biases;
  if (w_.biases) biases = gather(*w_.biases, ids);
  return dequantize(rows, scales, biases, w_.quant.group_size, w_.quant.bits, w_.quant.mode,
                    w_.scales->dtype());
}

}  // namespace lathe::nn
