// Dense and quantized linear layers and embeddings.
#include "lathe/nn/linear.h"

#include "lathe/ops/elementwise.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/linalg.h"
#include "lathe/ops/quantized.h"
#include "lathe/ops/shape.h"

namespace lathe::nn {

StoredMatrix StoredMatrix::bind(const Weights& weights, const std::string& name, int64_t rows,
                                int64_t cols) {
  StoredMatrix m{weights.linear(name)};
  const Shape want{rows, cols};
  if (!m.quantized()) {
    if (m.w.weight.shape() != want) {
      throw Error("[load_model] " + weights.source() + ": tensor '" + name + ".weight' has shape " +
                  shape_str(m.w.weight.shape()) + ", expected " + shape_str(want));
    }
    return m;
  }
  // Quantized: the scales say how many rows and groups the codes hold.
  const Array& scales = *m.w.scales;
  const Shape logical{scales.shape(0), scales.shape(-1) * m.w.quant->group_size};
  if (scales.ndim() != 2 || logical != want) {
    throw Error("[load_model] " + weights.source() + ": quantized '" + name + "' holds a " +
                shape_str(logical) + " matrix (scales " + shape_str(scales.shape()) +
                "), expected " + shape_str(want));
  }
  return m;
}

Array StoredMatrix::matmul_transposed(const Array& x) const {
  if (!quantized()) return matmul(x, transpose(w.weight));
  const io::QuantSpec& q = *w.quant;
  return quantized_matmul(x, w.weight, *w.scales, w.biases, true, q.group_size, q.bits, q.mode);
}

Array StoredMatrix::rows(const Array& ids) const {
  if (!quantized()) return gather(w.weight, ids);
  // Dequantize only the rows looked up.
  const io::QuantSpec& q = *w.quant;
  std::optional<Array> biases;
  if (w.biases) biases = gather(*w.biases, ids);
  return dequantize(gather(w.weight, ids), gather(*w.scales, ids), biases, q.group_size, q.bits,
                    q.mode, w.scales->dtype());
}

std::vector<Array> StoredMatrix::parameters() const {
  std::vector<Array> out{w.weight};
  if (w.scales) out.push_back(*w.scales);
  if (w.biases) out.push_back(*w.biases);
  return out;
}

Linear::Linear(const Weights& w, const std::string& name, int64_t in_features, int64_t out_features,
               bool bias)
    : m_(StoredMatrix::bind(w, name, out_features, in_features)) {
  if (bias) bias_ = w.get(name + ".bias", {out_features});
}

Array Linear::operator()(const Array& x) const {
  Array y = m_.matmul_transposed(x);
  return bias_ ? y + *bias_ : y;
}

std::vector<Array> Linear::parameters() const {
  std::vector<Array> out = m_.parameters();
  if (bias_) out.push_back(*bias_);
  return out;
}

Embedding::Embedding(const Weights& w, const std::string& name, int64_t vocab, int64_t dim)
    : m_(StoredMatrix::bind(w, name, vocab, dim)) {}

Dtype Embedding::dtype() const {
  return m_.quantized() ? m_.w.scales->dtype() : m_.w.weight.dtype();
}

}  // namespace lathe::nn
