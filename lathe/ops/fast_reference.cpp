// The slow twins of the fused ops, composed of primitive ops: the oracles the
// fused kernels are tested against. They compute in float32 (float64 for
// float64 inputs) and round to the input dtype once, as the fused ops do.
#include <cmath>
#include <limits>

#include "lathe/ops/creation.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/fast.h"
#include "lathe/ops/fast_validate.h"
#include "lathe/ops/linalg.h"
#include "lathe/ops/reduce.h"
#include "lathe/ops/shape.h"

namespace lathe::fast {

namespace {

Dtype acc_dtype(const Array& x) { return x.dtype() == float64 ? float64 : float32; }

Array affine(Array y, const std::optional<Array>& weight, const std::optional<Array>& bias) {
  if (weight) y = y * astype(*weight, y.dtype());
  if (bias) y = y + astype(*bias, y.dtype());
  return y;
}

}  // namespace

Array rms_norm_reference(const Array& x, const std::optional<Array>& weight, float eps) {
  detail::check_rms_norm(x, weight);
  Array xf = astype(x, acc_dtype(x));
  Array y = xf * rsqrt(mean(xf * xf, -1, true) + eps);
  return astype(affine(y, weight, std::nullopt), x.dtype());
}

Array layer_norm_reference(const Array& x, const std::optional<Array>& weight,
                           const std::optional<Array>& bias, float eps) {
  detail::check_norm("layer_norm", x, 1, weight, bias);
  Array xf = astype(x, acc_dtype(x));
  Array centered = xf - mean(xf, -1, true);
  Array y = centered * rsqrt(mean(centered * centered, -1, true) + eps);
  return astype(affine(y, weight, bias), x.dtype());
}

Array group_norm_reference(const Array& x, int num_groups, const std::optional<Array>& weight,
                           const std::optional<Array>& bias, float eps) {
  detail::check_group_norm(x, num_groups, weight, bias);
  const int64_t c = x.shape(-1);
  // [B, positions, groups, channels per group]: statistics over axes 1 and 3.
  Array g = reshape(astype(x, acc_dtype(x)), {x.shape(0), -1, num_groups, c / num_groups});
  Array centered = g - mean(g, {1, 3}, true);
  Array y = centered * rsqrt(mean(centered * centered, {1, 3}, true) + eps);
  return astype(affine(reshape(y, x.shape()), weight, bias), x.dtype());
}

Array rope_reference(const Array& x, int dims, bool traditional, std::optional<float> base,
                     float scale, const Array& offset, const std::optional<Array>& freqs) {
  detail::check_rope(x, dims, base, freqs);
  detail::check_rope_offset(x, offset);
  const Dtype acc = acc_dtype(x);
  const int64_t t_len = x.shape(-2), d = x.shape(-1), half = dims / 2;
  Array inv_freq = freqs ? reciprocal(astype(*freqs, acc))
                         : power(full({}, *base, acc), arange(0, half, 1, acc) * (-2.0 / dims));
  // Positions [T], or [B, 1, ..., 1, T] with one offset per batch entry.
  Array off = astype(offset, acc);
  if (offset.size() == 1) {
    off = reshape(off, {});
  } else {
    Shape s(x.ndim() - 1, 1);
    s[0] = x.shape(0);
    off = reshape(off, s);
  }
  Array pos = (arange(t_len, acc) + off) * scale;
  Array angles = expand_dims(pos, -1) * inv_freq;  // [..., T, dims / 2]
  Array c = cos(angles), s = sin(angles);

  Array xf = astype(x, acc);
  Array x1 = traditional ? slice_axis(xf, -1, 0, dims, 2) : slice_axis(xf, -1, 0, half);
  Array x2 = traditional ? slice_axis(xf, -1, 1, dims, 2) : slice_axis(xf, -1, half, dims);
  Array r1 = x1 * c - x2 * s, r2 = x2 * c + x1 * s;
  Shape rotated_shape = r1.shape();
  rotated_shape.back() = dims;
  // Traditional interleaves the rotated pairs back; otherwise the halves follow each other.
  Array rotated =
      traditional ? reshape(stack({r1, r2}, -1), rotated_shape) : concatenate({r1, r2}, -1);
  if (dims < d) rotated = concatenate({rotated, slice_axis(xf, -1, dims, d)}, -1);
  return astype(rotated, x.dtype());
}

Array scaled_dot_product_attention_reference(const Array& q, const Array& k, const Array& v,
                                             float scale, const AttentionOptions& options) {
  detail::check_attention(q, k, v, options);
  const Dtype acc = acc_dtype(q);
  const int64_t b = q.shape(0), hq = q.shape(1), tq = q.shape(2), d = q.shape(3);
  const int64_t hkv = k.shape(1), tk = k.shape(2), dv = v.shape(3), group = hq / hkv;
  const float ninf = -std::numeric_limits<float>::infinity();
  // Query heads of one kv head side by side: [B, Hkv, G, Tq, D] against [B, Hkv, 1, Tk, D].
  Array q5 = reshape(astype(q, acc), {b, hkv, group, tq, d});
  Array k5 = expand_dims(astype(k, acc), 2), v5 = expand_dims(astype(v, acc), 2);
  Array scores = reshape(matmul(q5, swapaxes(k5, -1, -2)) * scale, {b, hq, tq, tk});

  std::optional<Array> allowed;
  Array kpos = reshape(arange(tk, int32), {1, tk});
  // Keys present: all, or the first kv_length of each batch entry ([B, 1, 1, 1]).
  std::optional<Array> length;
  if (options.kv_length) {
    Array n = astype(*options.kv_length, int32);
    n = minimum(maximum(n, Array(0)), Array(static_cast<int>(tk)));
    length = reshape(n.ndim() == 0 ? reshape(n, {1}) : n, {n.ndim() == 0 ? 1 : b, 1, 1, 1});
    allowed = kpos < *length;
  }
  if (options.causal || options.window > 0) {
    // Query i sits at position i + (keys present) - Tq.
    Array qpos = length ? reshape(arange(tq, int32), {tq, 1}) + (*length - static_cast<int>(tq))
                        : reshape(arange(tq, int32) + static_cast<int>(tk - tq), {tq, 1});
    Array limit = kpos <= qpos;
    if (options.window > 0) limit = limit && (kpos > qpos - options.window);
    allowed = allowed ? (*allowed && limit) : limit;
  }
  if (options.mask && options.mask->dtype() == bool_) {
    allowed = allowed ? (*allowed && *options.mask) : *options.mask;
  } else if (options.mask) {
    scores = scores + astype(*options.mask, acc);
  }
  if (allowed) scores = where(*allowed, scores, ninf);

  // Softmax with the sink as an extra logit; rows with nothing to attend give zeros.
  Array m = max(scores, -1, true);
  std::optional<Array> sink;
  if (options.sinks) {
    sink = reshape(astype(*options.sinks, acc), {1, hq, 1, 1});
    m = maximum(m, *sink);
  }
  m = where(m == ninf, 0.0f, m);
  Array p = exp(scores - m);
  Array denom = sum(p, -1, true);
  if (sink) denom = denom + exp(*sink - m);
  Array out = reshape(matmul(reshape(p, {b, hkv, group, tq, tk}), v5), {b, hq, tq, dv});
  out = out / where(denom == 0.0f, 1.0f, denom);
  return astype(out, q.dtype());
}

}  // namespace lathe::fast
