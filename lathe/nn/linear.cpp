// Dense and quantized linear layers and embeddings.
#include "lathe/nn/linear.h"

#include <cstdlib>
#include <cstring>
#include <tuple>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/linalg.h"
#include "lathe/ops/quantized.h"
#include "lathe/ops/shape.h"

namespace lathe::nn {

namespace {

void check_shape(const Weights& weights, const std::string& name, const io::LinearWeights& w,
                 int64_t rows, int64_t cols) {
  const Shape want{rows, cols};
  if (!w.quantized()) {
    if (w.weight.shape() != want) {
      throw Error("[load_model] " + weights.source() + ": tensor '" + name + ".weight' has shape " +
                  shape_str(w.weight.shape()) + ", expected " + shape_str(want));
    }
    return;
  }
  // Quantized: the scales say how many rows and groups the codes hold.
  const Array& scales = *w.scales;
  const Shape logical{scales.shape(0), scales.shape(-1) * w.quant->group_size};
  if (scales.ndim() != 2 || logical != want) {
    throw Error("[load_model] " + weights.source() + ": quantized '" + name + "' holds a " +
                shape_str(logical) + " matrix (scales " + shape_str(scales.shape()) +
                "), expected " + shape_str(want));
  }
}

// A part of one axis, copied to its own row-major buffer when it is not one
// already (a column part), so that the rank owns only its part.
Array part_of(const Array& a, int axis, int64_t begin, int64_t end) {
  Array p = slice_axis(a, axis, begin, end);
  return axis == 0 ? p : contiguous(p);
}

void take_part(const std::string& name, io::LinearWeights& w, int64_t cols, const MatrixPart& p) {
  if (!w.quantized() || p.axis == 0) {
    w.weight = part_of(w.weight, p.axis, p.begin, p.end);
    if (w.scales) w.scales = part_of(*w.scales, 0, p.begin, p.end);
    if (w.biases) w.biases = part_of(*w.biases, 0, p.begin, p.end);
    return;
  }
  // Columns of a quantized matrix: whole groups, and whole code words.
  const int64_t gs = w.quant->group_size, words = w.weight.shape(1);
  if (p.begin % gs != 0 || p.end % gs != 0 || (p.begin * words) % cols != 0 ||
      (p.end * words) % cols != 0) {
    throw Error("[tp] quantized '" + name + "' has groups of " + std::to_string(gs) +
                " input features, which do not split at features [" + std::to_string(p.begin) +
                ", " + std::to_string(p.end) + "); use a --tp that keeps whole groups per rank");
  }
  w.weight = part_of(w.weight, 1, p.begin * words / cols, p.end * words / cols);
  w.scales = part_of(*w.scales, 1, p.begin / gs, p.end / gs);
  if (w.biases) w.biases = part_of(*w.biases, 1, p.begin / gs, p.end / gs);
}

MatrixPart vocab_part(const Shard& shard, int64_t vocab) {
  if (!shard.split()) return {};
  auto [begin, end] = shard.padded_part(vocab);
  return {0, begin, end};
}

MatrixPart matrix_part(const LinearSplit& s) {
  switch (s.kind) {
    case LinearSplit::Kind::whole: return {};
    case LinearSplit::Kind::rows: return {1, s.begin, s.end};
    default: return {0, s.begin, s.end};
  }
}

}  // namespace

StoredMatrix StoredMatrix::bind(const Weights& weights, const std::string& name, int64_t rows,
                                int64_t cols, const MatrixPart& part) {
  return StoredMatrix{weights.linear(name, [&](io::LinearWeights& w) {
    check_shape(weights, name, w, rows, cols);
    if (part.axis >= 0) take_part(name, w, cols, part);
  })};
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
               bool bias, const LinearSplit& split)
    : m_(StoredMatrix::bind(w, name, out_features, in_features, matrix_part(split))),
      split_(split),
      out_features_(out_features) {
  if (!bias) return;
  bias_ = w.get(name + ".bias", {out_features});
  if (split.kind == LinearSplit::Kind::columns ||
      split.kind == LinearSplit::Kind::gathered_columns) {
    bias_ = slice_axis(*bias_, 0, split.begin, split.end);
  }
}

Array Linear::operator()(const Array& x) const {
  Array y = m_.matmul_transposed(x);
  // Row-split: the ranks' partial products are summed before the bias.
  if (split_.kind == LinearSplit::Kind::rows) y = split_.shard.all_reduce(y);
  if (bias_) y = y + *bias_;
  if (split_.kind == LinearSplit::Kind::gathered_columns) {
    y = split_.shard.gather_parts(y, out_features_);
  }
  return y;
}

std::vector<Array> Linear::parameters() const {
  std::vector<Array> out = m_.parameters();
  if (bias_) out.push_back(*bias_);
  return out;
}

int64_t Linear::local_out_features() const {
  return m_.quantized() ? m_.w.scales->shape(0) : m_.w.weight.shape(0);
}

std::optional<Linear> Linear::stack(const std::vector<Linear>& parts) {
  if (parts.size() < 2) return std::nullopt;
  const Linear& first = parts.front();
  const io::LinearWeights& f = first.m_.w;
  auto same_dtype = [](const std::optional<Array>& a, const std::optional<Array>& b) {
    return a.has_value() == b.has_value() && (!a || a->dtype() == b->dtype());
  };
  for (const Linear& p : parts) {
    const io::LinearWeights& w = p.m_.w;
    if (p.split_.kind == LinearSplit::Kind::rows ||
        p.split_.kind == LinearSplit::Kind::gathered_columns)
      return std::nullopt;
    if (w.quant != f.quant || w.weight.dtype() != f.weight.dtype() ||
        w.weight.ndim() != 2 || w.weight.shape(1) != f.weight.shape(1) ||
        w.weight.device() != f.weight.device() || !same_dtype(w.scales, f.scales) ||
        !same_dtype(w.biases, f.biases) || !same_dtype(p.bias_, first.bias_))
      return std::nullopt;
  }
  auto rows_of = [&](auto get) {
    std::vector<Array> v;
    for (const Linear& p : parts) v.push_back(get(p));
    return concatenate(v, 0);
  };
  Linear out = first;
  out.split_ = LinearSplit{};
  out.m_.w.weight = rows_of([](const Linear& p) { return p.m_.w.weight; });
  if (f.scales) out.m_.w.scales = rows_of([](const Linear& p) { return *p.m_.w.scales; });
  if (f.biases) out.m_.w.biases = rows_of([](const Linear& p) { return *p.m_.w.biases; });
  if (first.bias_) out.bias_ = rows_of([](const Linear& p) { return *p.bias_; });
  out.out_features_ = 0;
  for (const Linear& p : parts) out.out_features_ += p.local_out_features();
  return out;
}

LinearGroup::LinearGroup(std::vector<Linear> parts, bool fuse) {
  for (const Linear& p : parts) sizes_.push_back(p.local_out_features());
  if (fuse) stacked_ = Linear::stack(parts);
  if (!stacked_) parts_ = std::move(parts);
}

std::vector<Array> LinearGroup::operator()(const Array& x) const {
  std::vector<Array> out;
  if (!stacked_) {
    for (const Linear& p : parts_) out.push_back(p(x));
    return out;
  }
  Array y = (*stacked_)(x);
  int64_t begin = 0;
  for (int64_t n : sizes_) {
    out.push_back(slice_axis(y, -1, begin, begin + n));
    begin += n;
  }
  return out;
}

Array LinearGroup::stacked(const Array& x) const {
  if (!stacked_) throw Error("[linear] LinearGroup::stacked on layers that are not stacked");
  return (*stacked_)(x);
}

std::vector<Array> LinearGroup::parameters() const {
  if (stacked_) return stacked_->parameters();
  std::vector<Array> out;
  for (const Linear& p : parts_) {
    auto ps = p.parameters();
    out.insert(out.end(), ps.begin(), ps.end());
  }
  return out;
}

bool fuse_projections(const Weights& w) {
  if (const char* e = std::getenv("LATHE_FUSE_PROJECTIONS"); e && *e) return std::strcmp(e, "0") != 0;
  return w.device() == Device::cuda;
}

Embedding::Embedding(const Weights& w, const std::string& name, int64_t vocab, int64_t dim,
                     const Shard& shard)
    : m_(StoredMatrix::bind(w, name, vocab, dim, vocab_part(shard, vocab))),
      shard_(shard),
      vocab_(vocab) {
  std::tie(begin_, end_) =
      shard.split() ? shard.padded_part(vocab) : std::pair<int64_t, int64_t>{0, vocab};
}

Array Embedding::operator()(const Array& ids) const {
  if (!shard_.split()) return m_.rows(ids);
  const Array begin(static_cast<int>(begin_));
  Array local = ids - begin;
  Array mine = logical_and(ids >= begin, ids < Array(static_cast<int>(end_)));
  // The last rank looks up every id no rank holds, so that an id outside the
  // vocabulary fails in its gather as it would in a whole model.
  Array looked_up =
      shard_.rank == shard_.size - 1
          ? logical_or(mine, logical_or(ids < Array(0), ids >= Array(static_cast<int>(vocab_))))
          : mine;
  Array rows = m_.rows(where(looked_up, local, Array(0)));
  rows = where(expand_dims(mine, -1), rows, Array(0.0f));
  return shard_.all_reduce(rows);
}

Array Embedding::as_linear(const Array& x) const {
  return shard_.gather_parts(m_.matmul_transposed(x), vocab_);
}

Dtype Embedding::dtype() const {
  return m_.quantized() ? m_.w.scales->dtype() : m_.w.weight.dtype();
}

}  // namespace lathe::nn
