#include "lathe/ops/quantized.h"

#include <memory>

#include "lathe/ops/creation.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/quantized.h"

namespace lathe {

namespace {

QuantSpec parse_spec(const char* op, const std::string& mode, std::optional<int> group_size,
                     std::optional<int> bits) {
  QuantSpec s;
  if (mode == "affine") {
    s = {group_size.value_or(64), bits.value_or(4), QuantMode::affine};
    if (s.group_size != 32 && s.group_size != 64 && s.group_size != 128) {
      op_error(op, "group_size must be 32, 64 or 128, got " + std::to_string(s.group_size));
    }
    if (s.bits < 2 || s.bits > 8 || s.bits == 7) {
      op_error(op, "bits must be 2, 3, 4, 5, 6 or 8, got " + std::to_string(s.bits));
    }
  } else if (mode == "mxfp4") {
    s = {group_size.value_or(32), bits.value_or(4), QuantMode::mxfp4};
    if (s.group_size != 32 || s.bits != 4) {
      op_error(op, "mxfp4 needs group_size 32 and bits 4, got group_size " +
                       std::to_string(s.group_size) + " and bits " + std::to_string(s.bits));
    }
  } else {
    op_error(op, "unknown quantization mode '" + mode + "' (expected affine or mxfp4)");
  }
  return s;
}

// The packed weight checked against its scales and biases, rows made contiguous.
struct Weight {
  Array wq, scales;
  std::optional<Array> biases;
  int64_t rows, cols;  // of the float matrix each stored matrix stands for
  Shape batch;
};

Shape drop_last(const Shape& s, size_t n) { return Shape(s.begin(), s.end() - n); }

Weight check_weight(const char* op, const Array& wq_in, const Array& scales,
                    const std::optional<Array>& biases, const QuantSpec& spec) {
  wq_in.check_valid(op);
  scales.check_valid(op);
  Array wq = wq_in;
  if (spec.mode == QuantMode::affine) {
    if (wq.dtype() != uint32)
      op_error(op, std::string("wq must be uint32, got ") + wq.dtype().name());
    if (!scales.dtype().is_floating()) {
      op_error(op, std::string("scales must be floating-point, got ") + scales.dtype().name());
    }
    if (!biases) op_error(op, "affine quantization needs biases");
  } else {
    if (wq.dtype() != uint32 && wq.dtype() != uint8) {
      op_error(op, std::string("mxfp4 wq must be uint32 or uint8, got ") + wq.dtype().name());
    }
    if (scales.dtype() != uint8) {
      op_error(op, std::string("mxfp4 scales must be uint8 (E8M0), got ") + scales.dtype().name());
    }
    if (biases) op_error(op, "mxfp4 has no biases");
    // gpt-oss blocks [..., N, G, 16] with scales [..., N, G]: one row of bytes per output row.
    if (wq.dtype() == uint8 && wq.ndim() == scales.ndim() + 1 && wq.shape(-1) == 16 &&
        drop_last(wq.shape(), 1) == scales.shape()) {
      Shape flat = drop_last(wq.shape(), 2);
      flat.push_back(wq.shape(-2) * 16);
      wq = reshape(wq, flat);
    }
  }
  if (wq.ndim() < 2) {
    op_error(op, "wq must have at least 2 dimensions, got shape " + shape_str(wq_in.shape()));
  }
  int64_t row_bits = wq.shape(-1) * int64_t(wq.itemsize()) * 8;
  if (row_bits % spec.bits != 0 || (row_bits / spec.bits) % spec.group_size != 0) {
    op_error(op, "rows of wq (shape " + shape_str(wq_in.shape()) +
                     ") do not hold a whole number of " + std::to_string(spec.group_size) +
                     "-element groups of " + std::to_string(spec.bits) + "-bit codes");
  }
  int64_t cols = row_bits / spec.bits;
  Shape want = drop_last(wq.shape(), 1);
  want.push_back(cols / spec.group_size);
  if (scales.shape() != want) {
    op_error(op, "scales have shape " + shape_str(scales.shape()) + ", expected " +
                     shape_str(want) + " for wq of shape " + shape_str(wq_in.shape()) + " (" +
                     spec.str() + ")");
  }
  Weight w{contiguous(wq), contiguous(scales),      std::nullopt, wq.shape(-2),
           cols,           drop_last(wq.shape(), 2)};
  if (biases) {
    biases->check_valid(op);
    if (biases->shape() != scales.shape() || biases->dtype() != scales.dtype()) {
      op_error(op, "biases (" + shape_str(biases->shape()) + ", " + biases->dtype().name() +
                       ") must match scales (" + shape_str(scales.shape()) + ", " +
                       scales.dtype().name() + ")");
    }
    w.biases = contiguous(*biases);
  }
  return w;
}

std::vector<Array> weight_inputs(const Weight& w) {
  std::vector<Array> in{w.wq, w.scales};
  if (w.biases) in.push_back(*w.biases);
  return in;
}

// x as [..., M, K] checked against the weight; the result dtype.
struct Lhs {
  Array x;
  bool vector;
  int64_t m, n;
  Dtype dtype;
};

Lhs check_lhs(const char* op, const Array& x, const Weight& w, const QuantSpec& spec,
              bool transpose) {
  x.check_valid(op);
  require_floating(op, x);
  if (x.ndim() == 0) op_error(op, "x must have at least 1 dimension");
  Array x2 = x.ndim() == 1 ? reshape(x, {1, x.shape(0)}) : x;
  int64_t k = transpose ? w.cols : w.rows, n = transpose ? w.rows : w.cols;
  if (x2.shape(-1) != k) {
    op_error(op, "x has shape " + shape_str(x.shape()) + " (K=" + std::to_string(x2.shape(-1)) +
                     ") but the weights have K=" + std::to_string(k) + " (wq shape " +
                     shape_str(w.wq.shape()) + ", transpose=" + (transpose ? "true" : "false") +
                     ")");
  }
  Dtype d = spec.mode == QuantMode::affine ? promote_types(x.dtype(), w.scales.dtype()) : x.dtype();
  return {x2, x.ndim() == 1, x2.shape(-2), n, d};
}

Array gather_indices(const char* op, const char* which, const std::optional<Array>& idx,
                     const Shape& batch) {
  if (idx) {
    idx->check_valid(op);
    if (!idx->dtype().is_integral()) {
      op_error(op, std::string(which) + " must be an integer array, got " + idx->dtype().name());
    }
    return astype(*idx, uint32);
  }
  return reshape(arange(static_cast<int64_t>(shape_size(batch)), uint32), batch);
}

}  // namespace

QuantizedWeight quantize(const Array& w, std::optional<int> group_size, std::optional<int> bits) {
  const char* op = "quantize";
  QuantSpec spec = parse_spec(op, "affine", group_size, bits);
  w.check_valid(op);
  require_floating(op, w);
  if (w.ndim() < 2) {
    op_error(op, "needs a matrix of at least 2 dimensions, got shape " + shape_str(w.shape()));
  }
  int64_t k = w.shape(-1);
  if (k % spec.group_size != 0) {
    op_error(op, "the last dimension " + std::to_string(k) + " of shape " + shape_str(w.shape()) +
                     " is not divisible by group_size " + std::to_string(spec.group_size));
  }
  Dtype d = w.dtype() == float64 ? float32 : w.dtype();
  Array wc = contiguous(w);
  Shape packed = drop_last(w.shape(), 1), groups = packed;
  packed.push_back(k * spec.bits / 32);
  groups.push_back(k / spec.group_size);
  using Part = AffineQuantize::Part;
  return {Array(packed, uint32, std::make_shared<AffineQuantize>(spec, Part::packed), {wc}),
          Array(groups, d, std::make_shared<AffineQuantize>(spec, Part::scales), {wc}),
          Array(groups, d, std::make_shared<AffineQuantize>(spec, Part::biases), {wc})};
}

Array dequantize(const Array& wq, const Array& scales, const std::optional<Array>& biases,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 std::optional<Dtype> dtype) {
  const char* op = "dequantize";
  QuantSpec spec = parse_spec(op, mode, group_size, bits);
  Weight w = check_weight(op, wq, scales, biases, spec);
  Dtype d = dtype.value_or(spec.mode == QuantMode::affine ? scales.dtype() : bfloat16);
  if (!d.is_floating()) op_error(op, std::string("dtype must be floating-point, got ") + d.name());
  Shape out = w.batch;
  out.push_back(w.rows);
  out.push_back(w.cols);
  return Array(out, d, std::make_shared<Dequantize>(spec), weight_inputs(w));
}

Array quantized_matmul(const Array& x, const Array& wq, const Array& scales,
                       const std::optional<Array>& biases, bool transpose,
                       std::optional<int> group_size, std::optional<int> bits,
                       const std::string& mode) {
  const char* op = "quantized_matmul";
  QuantSpec spec = parse_spec(op, mode, group_size, bits);
  Weight w = check_weight(op, wq, scales, biases, spec);
  Lhs l = check_lhs(op, x, w, spec, transpose);
  Shape xb = drop_last(l.x.shape(), 2);
  Shape batch = broadcast_shapes(op, xb, w.batch);
  Shape out = batch;
  out.push_back(l.m);
  out.push_back(l.n);
  std::vector<Array> in{l.x};
  for (auto& a : weight_inputs(w)) in.push_back(a);
  Array r(out, l.dtype, std::make_shared<QuantizedMatmul>(spec, transpose), in);
  if (!l.vector) return r;
  Shape user = batch;
  user.push_back(l.n);
  return reshape(r, user);
}

Array gather_qmm(const Array& x, const Array& wq, const Array& scales,
                 const std::optional<Array>& biases, const std::optional<Array>& lhs_indices,
                 const std::optional<Array>& rhs_indices, bool transpose,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode) {
  const char* op = "gather_qmm";
  QuantSpec spec = parse_spec(op, mode, group_size, bits);
  Weight w = check_weight(op, wq, scales, biases, spec);
  Lhs l = check_lhs(op, x, w, spec, transpose);
  Array li = gather_indices(op, "lhs_indices", lhs_indices, drop_last(l.x.shape(), 2));
  Array ri = gather_indices(op, "rhs_indices", rhs_indices, w.batch);
  Shape out = broadcast_shapes(op, li.shape(), ri.shape());
  Shape user = out;
  out.push_back(l.m);
  out.push_back(l.n);
  if (!l.vector) user.push_back(l.m);
  user.push_back(l.n);
  std::vector<Array> in{l.x};
  for (auto& a : weight_inputs(w)) in.push_back(a);
  in.push_back(li);
  in.push_back(ri);
  Array r(out, l.dtype, std::make_shared<GatherQMM>(spec, transpose), in);
  return r.shape() == user ? r : reshape(r, user);
}

}  // namespace lathe
