// Fused ops for models (as MLX's mx.fast): normalizations, rotary embeddings
// and attention. Each has a *_reference twin built from primitive ops, the
// oracle its tests compare against.
#pragma once

#include <optional>

#include "lathe/core/array.h"

namespace lathe::fast {

// x * rsqrt(mean(x^2 over the last axis) + eps) * weight, accumulated in
// float32; the result has x's dtype. weight is 1-D, the size of the last axis.
// The weight is [features] (x.shape(-1)), or [x.shape(-2), features]: one weight per row of
// the last two axes (per-head norms of several heads at once, q's and k's say).
Array rms_norm(const Array& x, const std::optional<Array>& weight, float eps);
// residual + rms_norm(x, weight, eps) in one pass (the post-norm residual of sandwich-norm
// blocks, Gemma's): the same values as the two ops. A residual of another shape or dtype
// takes the two ops.
Array rms_norm(const Array& x, const std::optional<Array>& weight, float eps,
               const Array& residual);

// (x - mean) * rsqrt(var + eps) * weight + bias over the last axis.
Array layer_norm(const Array& x, const std::optional<Array>& weight,
                 const std::optional<Array>& bias, float eps);

// Channels-last group norm (diffusion VAEs): x [B, ..., C]; each batch entry's
// channels are split into num_groups contiguous blocks (PyTorch's grouping),
// normalized over every position and channel of the block; weight and bias [C].
Array group_norm(const Array& x, int num_groups, const std::optional<Array>& weight,
                 const std::optional<Array>& bias, float eps);

// Rotary position embedding of x [..., T, D] (positions along T): the first
// `dims` features rotate, the rest pass through. traditional rotates pairs
// (x[2i], x[2i+1]); otherwise the halves (x[i], x[i + dims/2]) as Llama/HF.
// Position t is offset + t; its angle for pair i is t * scale * inv_freq[i]
// with inv_freq[i] = base^(-2i/dims), or 1 / freqs[i] when freqs ([dims/2]) is
// given. Exactly one of base and freqs is given (as MLX's fast.rope).
Array rope(const Array& x, int dims, bool traditional, std::optional<float> base, float scale,
           int offset, const std::optional<Array>& freqs = std::nullopt);
// The offset as data (decode steps): an integer scalar, or a 1-D array with
// one offset per entry of x's first axis (x at least 3-D).
Array rope(const Array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const Array& offset, const std::optional<Array>& freqs = std::nullopt);

// Which keys each query may see, besides what `mask` says. Queries are aligned
// to the end of the keys: query i sits at position i + Tk - Tq.
struct AttentionOptions {
  // Query i attends keys j <= i + Tk - Tq.
  bool causal = false;
  // Broadcastable to [B, Hq, Tq, Tk]: bool (true = attend) or an additive
  // floating-point mask (-inf excludes a key).
  std::optional<Array> mask;
  // > 0: query i attends only the `window` keys ending at its own position
  // (i + Tk - Tq - window < j <= i + Tk - Tq); implies causal.
  int window = 0;
  // [Hq] (gpt-oss): one logit per head that joins the softmax denominator but
  // carries no value.
  std::optional<Array> sinks;
  // Integer scalar or [B] (decode steps with positions as data): only the first
  // kv_length keys of k and v exist, as if they were sliced to that length, and
  // queries align to the end of those: query i sits at position i + kv_length - Tq.
  // k and v may then be whole preallocated cache buffers, so that a step's shapes
  // do not change as the cache fills. Lengths outside [0, Tk] are clamped to it.
  std::optional<Array> kv_length;
};

// softmax(q k^T * scale + masks) v for q [B, Hq, Tq, D], k [B, Hkv, Tk, D],
// v [B, Hkv, Tk, Dv], with Hq a multiple of Hkv (grouped-query attention:
// query head h reads kv head h / (Hq / Hkv)). q, k and v share one floating
// dtype, which the result [B, Hq, Tq, Dv] has; accumulation is float32. A query
// that may attend no key (and has no sink) gets zeros.
Array scaled_dot_product_attention(const Array& q, const Array& k, const Array& v, float scale,
                                   const AttentionOptions& options = {});

// Slow twins: the same functions composed of primitive ops (mean, matmul, max,
// exp, concatenate, ...), computed in float32 (float64 for float64 inputs).
// They are the oracles of the fused ops' tests, and refuse the same inputs.
Array rms_norm_reference(const Array& x, const std::optional<Array>& weight, float eps);
Array layer_norm_reference(const Array& x, const std::optional<Array>& weight,
                           const std::optional<Array>& bias, float eps);
Array group_norm_reference(const Array& x, int num_groups, const std::optional<Array>& weight,
                           const std::optional<Array>& bias, float eps);
// The offset may be a C++ int (it converts to a scalar array) or integer data.
Array rope_reference(const Array& x, int dims, bool traditional, std::optional<float> base,
                     float scale, const Array& offset,
                     const std::optional<Array>& freqs = std::nullopt);
Array scaled_dot_product_attention_reference(const Array& q, const Array& k, const Array& v,
                                             float scale, const AttentionOptions& options = {});

}  // namespace lathe::fast
