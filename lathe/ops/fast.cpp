// Constructors of the fused ops: validation and shape inference; the kernels
// are in lathe/backend/cpu/{norms,rope,attention}.cpp.
#include "lathe/ops/fast.h"

#include <memory>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/fast_validate.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/fast.h"

namespace lathe::fast {

namespace detail {

namespace {

// A 1-D floating-point parameter of length n (weights, biases, freqs, sinks).
void check_vector(const char* op, const char* what, const Array& a, int64_t n) {
  a.check_valid(op);
  if (!a.dtype().is_floating()) {
    op_error(op, std::string(what) + " must be floating-point, got " + a.dtype().name());
  }
  if (a.ndim() != 1 || a.shape(0) != n) {
    op_error(op, std::string(what) + " must have shape " + shape_str(Shape{n}) + ", got " +
                     shape_str(a.shape()));
  }
}

void check_input(const char* op, const Array& x, int min_ndim) {
  x.check_valid(op);
  require_floating(op, x);
  if (x.ndim() < min_ndim) {
    op_error(op, "expected an array of at least " + std::to_string(min_ndim) +
                     " dimensions, got shape " + shape_str(x.shape()));
  }
}

}  // namespace

void check_norm(const char* op, const Array& x, int min_ndim, const std::optional<Array>& weight,
                const std::optional<Array>& bias) {
  check_input(op, x, min_ndim);
  if (weight) check_vector(op, "weight", *weight, x.shape(-1));
  if (bias) check_vector(op, "bias", *bias, x.shape(-1));
}

void check_rms_norm(const Array& x, const std::optional<Array>& weight) {
  const char* op = "rms_norm";
  if (weight && weight->ndim() == 2) {
    check_input(op, x, 2);
    weight->check_valid(op);
    if (!weight->dtype().is_floating()) {
      op_error(op, std::string("weight must be floating-point, got ") + weight->dtype().name());
    }
    if (weight->shape() != Shape{x.shape(-2), x.shape(-1)}) {
      op_error(op, "a 2-D weight must have shape " + shape_str(Shape{x.shape(-2), x.shape(-1)}) +
                       " (one row per row of x's last two axes), got " +
                       shape_str(weight->shape()));
    }
    return;
  }
  check_norm(op, x, 1, weight, std::nullopt);
}

void check_group_norm(const Array& x, int num_groups, const std::optional<Array>& weight,
                      const std::optional<Array>& bias) {
  const char* op = "group_norm";
  check_norm(op, x, 2, weight, bias);
  int64_t c = x.shape(-1);
  if (num_groups <= 0 || c % num_groups != 0) {
    op_error(op, "num_groups " + std::to_string(num_groups) + " must be positive and divide " +
                     std::to_string(c) + " channels");
  }
}

void check_rope(const Array& x, int dims, std::optional<float> base,
                const std::optional<Array>& freqs) {
  const char* op = "rope";
  check_input(op, x, 2);
  int64_t d = x.shape(-1);
  if (dims <= 0 || dims % 2 != 0 || dims > d) {
    op_error(op, "dims " + std::to_string(dims) + " must be even, positive and at most the " +
                     "feature size " + std::to_string(d));
  }
  if (base.has_value() == freqs.has_value()) {
    op_error(op, "exactly one of base and freqs must be given");
  }
  if (freqs) check_vector(op, "freqs", *freqs, dims / 2);
}

void check_rope_offset(const Array& x, const Array& offset) {
  const char* op = "rope";
  offset.check_valid(op);
  if (!offset.dtype().is_integral()) {
    op_error(op, std::string("offset must be an integer array, got ") + offset.dtype().name());
  }
  bool per_batch = offset.ndim() == 1 && x.ndim() >= 3 && offset.shape(0) == x.shape(0);
  if (offset.size() != 1 && !per_batch) {
    op_error(op, "offset must be a scalar or have one entry per batch (" +
                     std::to_string(x.ndim() >= 3 ? x.shape(0) : 1) + "), got shape " +
                     shape_str(offset.shape()));
  }
}

void check_attention(const Array& q, const Array& k, const Array& v,
                     const AttentionOptions& options) {
  const char* op = "scaled_dot_product_attention";
  for (const Array* a : {&q, &k, &v}) {
    check_input(op, *a, 0);
    if (a->ndim() != 4) {
      op_error(op, "q, k and v must be 4-D [batch, heads, tokens, features], got " +
                       shape_str(q.shape()) + ", " + shape_str(k.shape()) + " and " +
                       shape_str(v.shape()));
    }
  }
  if (q.dtype() != k.dtype() || q.dtype() != v.dtype()) {
    op_error(op, std::string("q, k and v must share a dtype, got ") + q.dtype().name() + ", " +
                     k.dtype().name() + " and " + v.dtype().name());
  }
  const int64_t b = q.shape(0), hq = q.shape(1), tq = q.shape(2), hkv = k.shape(1), tk = k.shape(2);
  if (k.shape(0) != b || v.shape(0) != b || v.shape(1) != hkv || v.shape(2) != tk ||
      k.shape(3) != q.shape(3)) {
    op_error(op, "shapes do not match: q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) +
                     ", v " + shape_str(v.shape()) +
                     " (batch, kv heads and key counts must agree, q and k share features)");
  }
  if (hkv == 0 || hq % hkv != 0) {
    op_error(op, "query heads " + std::to_string(hq) + " must be a multiple of key/value heads " +
                     std::to_string(hkv));
  }
  if (options.window < 0) {
    op_error(op, "sliding window " + std::to_string(options.window) + " must not be negative");
  }
  if (options.mask) {
    const Array& m = *options.mask;
    m.check_valid(op);
    if (m.dtype() != bool_ && !m.dtype().is_floating()) {
      op_error(op, std::string("mask must be bool or floating-point, got ") + m.dtype().name());
    }
    const Shape full{b, hq, tq, tk};
    bool fits = m.ndim() <= 4;
    for (int i = 0; fits && i < m.ndim(); ++i) {
      int64_t want = full[4 - m.ndim() + i];
      fits = m.shape(i) == want || m.shape(i) == 1;
    }
    if (!fits) {
      op_error(op, "mask of shape " + shape_str(m.shape()) + " does not broadcast to " +
                       shape_str(full));
    }
  }
  if (options.sinks) check_vector(op, "sinks", *options.sinks, hq);
  if (options.kv_length) {
    const Array& n = *options.kv_length;
    n.check_valid(op);
    if (!n.dtype().is_integral() || n.dtype() == bool_) {
      op_error(op, std::string("kv_length must be integers, got ") + n.dtype().name());
    }
    if (!(n.ndim() == 0 || (n.ndim() == 1 && (n.shape(0) == b || n.shape(0) == 1)))) {
      op_error(op, "kv_length must be a scalar or one length per batch entry [" +
                       std::to_string(b) + "], got " + shape_str(n.shape()));
    }
  }
}

}  // namespace detail

namespace {

std::vector<Array> with_optional(std::vector<Array> inputs, const std::optional<Array>& a,
                                 const std::optional<Array>& b = std::nullopt) {
  if (a) inputs.push_back(*a);
  if (b) inputs.push_back(*b);
  return inputs;
}

Rope::Params rope_params(const Array& x, int dims, bool traditional, std::optional<float> base,
                         float scale, const std::optional<Array>& freqs) {
  detail::check_rope(x, dims, base, freqs);
  return Rope::Params{dims, traditional, base.value_or(0.0f), scale, 0, false, freqs.has_value()};
}

}  // namespace

Array rms_norm(const Array& x, const std::optional<Array>& weight, float eps) {
  detail::check_rms_norm(x, weight);
  return Array(x.shape(), x.dtype(), std::make_shared<RmsNorm>(eps, weight.has_value()),
               with_optional({x}, weight));
}

Array rms_norm(const Array& x, const std::optional<Array>& weight, float eps,
               const Array& residual) {
  detail::check_rms_norm(x, weight);
  residual.check_valid("rms_norm");
  if (residual.shape() != x.shape() || residual.dtype() != x.dtype()) {
    return residual + rms_norm(x, weight, eps);
  }
  std::vector<Array> in = with_optional({x}, weight);
  in.push_back(residual);
  return Array(x.shape(), x.dtype(), std::make_shared<RmsNorm>(eps, weight.has_value(), true),
               std::move(in));
}

Array layer_norm(const Array& x, const std::optional<Array>& weight,
                 const std::optional<Array>& bias, float eps) {
  detail::check_norm("layer_norm", x, 1, weight, bias);
  return Array(x.shape(), x.dtype(),
               std::make_shared<LayerNorm>(eps, weight.has_value(), bias.has_value()),
               with_optional({x}, weight, bias));
}

Array group_norm(const Array& x, int num_groups, const std::optional<Array>& weight,
                 const std::optional<Array>& bias, float eps) {
  detail::check_group_norm(x, num_groups, weight, bias);
  return Array(x.shape(), x.dtype(),
               std::make_shared<GroupNorm>(num_groups, eps, weight.has_value(), bias.has_value()),
               with_optional({x}, weight, bias));
}

Array rope(const Array& x, int dims, bool traditional, std::optional<float> base, float scale,
           int offset, const std::optional<Array>& freqs) {
  Rope::Params p = rope_params(x, dims, traditional, base, scale, freqs);
  p.offset = offset;
  return Array(x.shape(), x.dtype(), std::make_shared<Rope>(p), with_optional({x}, freqs));
}

Array rope(const Array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const Array& offset, const std::optional<Array>& freqs) {
  Rope::Params p = rope_params(x, dims, traditional, base, scale, freqs);
  detail::check_rope_offset(x, offset);
  p.offset_is_array = true;
  return Array(x.shape(), x.dtype(), std::make_shared<Rope>(p), with_optional({x, offset}, freqs));
}

Array scaled_dot_product_attention(const Array& q, const Array& k, const Array& v, float scale,
                                   const AttentionOptions& options) {
  detail::check_attention(q, k, v, options);
  Attention::Params p{scale,
                      options.causal,
                      options.window,
                      options.mask.has_value(),
                      options.sinks.has_value(),
                      options.kv_length.has_value()};
  std::vector<Array> inputs = with_optional({q, k, v}, options.mask, options.sinks);
  if (options.kv_length) {
    // The kernels read int32 lengths, one per batch entry.
    Array n = astype(*options.kv_length, int32);
    inputs.push_back(n.ndim() == 1 && n.shape(0) == q.shape(0) ? n
                                                               : broadcast_to(reshape(n, {1}),
                                                                              {q.shape(0)}));
  }
  return Array(Shape{q.shape(0), q.shape(1), q.shape(2), v.shape(3)}, q.dtype(),
               std::make_shared<Attention>(p), std::move(inputs));
}

}  // namespace lathe::fast
