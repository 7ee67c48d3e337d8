// Self-attention of the Llama family (see attention.h).
#include "lathe/nn/attention.h"

#include <cmath>
#include <limits>
#include <tuple>

#include "lathe/ops/creation.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/fast.h"
#include "lathe/ops/linalg.h"
#include "lathe/ops/reduce.h"
#include "lathe/ops/shape.h"

namespace lathe::nn {

namespace {

std::optional<RMSNorm> qk_norm(const Weights& w, const std::string& name, const AttentionSpec& s) {
  if (s.qk_norm == AttentionSpec::QkNorm::none) return std::nullopt;
  return RMSNorm(w, name, s.head_dim, s.norm_eps, s.qk_norm == AttentionSpec::QkNorm::gemma_rms);
}

}  // namespace

std::optional<std::string> head_split_problem(int num_heads, int num_kv_heads, int ranks) {
  if (num_heads % ranks != 0) {
    return "num_attention_heads " + std::to_string(num_heads) + " is not divisible by the " +
           std::to_string(ranks) + " ranks";
  }
  if (num_kv_heads % ranks != 0 && ranks % num_kv_heads != 0) {
    return "num_key_value_heads " + std::to_string(num_kv_heads) + " and the " +
           std::to_string(ranks) +
           " ranks do not divide one another (kv heads are split evenly, or replicated when the "
           "rank count is a multiple of them)";
  }
  return std::nullopt;
}

HeadPart head_part(int num_heads, int num_kv_heads, const Shard& shard) {
  const int n = shard.size;
  if (auto problem = head_split_problem(num_heads, num_kv_heads, n))
    throw Error("[tp] " + *problem);
  HeadPart p;
  p.q_count = num_heads / n;
  p.q_begin = shard.rank * p.q_count;
  if (num_kv_heads >= n) {
    p.kv_count = num_kv_heads / n;
    p.kv_begin = shard.rank * p.kv_count;
  } else {
    p.kv_count = 1;
    p.kv_begin = shard.rank / (n / num_kv_heads);
  }
  return p;
}

namespace {

AttentionSpec local_spec(AttentionSpec s, const HeadPart& p) {
  s.num_heads = p.q_count;
  s.num_kv_heads = p.kv_count;
  return s;
}

// The features of heads [begin, begin + count) of head_dim d.
LinearSplit head_columns(const Shard& shard, int begin, int count, int d) {
  if (!shard.split()) return {};
  return LinearSplit::columns(int64_t(begin) * d, int64_t(begin + count) * d);
}

}  // namespace

Attention::Attention(const Weights& w, const std::string& prefix, const AttentionSpec& s,
                     const Shard& shard)
    : Attention(w, prefix, s, shard, head_part(s.num_heads, s.num_kv_heads, shard)) {}

Attention::Attention(const Weights& w, const std::string& prefix, const AttentionSpec& s,
                     const Shard& shard, const HeadPart& p)
    : spec_(local_spec(s, p)),
      qkv_({Linear(w, prefix + ".q_proj", s.hidden_size, int64_t(s.num_heads) * s.head_dim,
                   s.qkv_bias, head_columns(shard, p.q_begin, p.q_count, s.head_dim)),
            Linear(w, prefix + ".k_proj", s.hidden_size, int64_t(s.num_kv_heads) * s.head_dim,
                   s.qkv_bias, head_columns(shard, p.kv_begin, p.kv_count, s.head_dim)),
            Linear(w, prefix + ".v_proj", s.hidden_size, int64_t(s.num_kv_heads) * s.head_dim,
                   s.qkv_bias, head_columns(shard, p.kv_begin, p.kv_count, s.head_dim))},
           fuse_projections(w)),
      o_proj_(w, prefix + ".o_proj", int64_t(s.num_heads) * s.head_dim, s.hidden_size, s.o_bias,
              shard.split() ? LinearSplit::rows(shard, int64_t(p.q_begin) * s.head_dim,
                                                int64_t(p.q_begin + p.q_count) * s.head_dim)
                            : LinearSplit{}),
      q_norm_(qk_norm(w, prefix + ".q_norm", s)),
      k_norm_(qk_norm(w, prefix + ".k_norm", s)) {
  if (qkv_.fused() && q_norm_) {
    const int64_t d = spec_.head_dim;
    Array qw = broadcast_to(astype(q_norm_->weight(), float32), {spec_.num_heads, d});
    Array kw = broadcast_to(astype(k_norm_->weight(), float32), {spec_.num_kv_heads, d});
    qk_norm_weight_ = concatenate({qw, kw}, 0);
  }
}

Array Attention::operator()(const Array& x, KVCache& cache, const RotaryEmbedding& rope,
                            StepPosition* at) const {
  const int64_t b = x.shape(0), t = x.shape(1), d = spec_.head_dim;
  const int64_t hq = spec_.num_heads, hkv = spec_.num_kv_heads;
  if (at && !takes_step_positions()) {
    throw Error("[attention] logit soft-capping does not take positions as data");
  }
  const int offset = cache.offset();
  auto rotate = [&](const Array& y) { return at ? rope(y, at->position()) : rope(y, offset); };
  auto [queries, keys, values] = [&]() -> std::tuple<Array, Array, Array> {
    if (qkv_.fused()) {
      // One product for q, k and v; the queries' and keys' heads side by side go through one
      // norm and one rope (they share positions), then split as views.
      Array y = qkv_.stacked(x);
      Array qk = reshape(slice_axis(y, -1, 0, (hq + hkv) * d), {b, t, hq + hkv, d});
      if (q_norm_) qk = fast::rms_norm(qk, *qk_norm_weight_, spec_.norm_eps);
      qk = rotate(transpose(qk, {0, 2, 1, 3}));
      Array v = reshape(slice_axis(y, -1, (hq + hkv) * d, (hq + 2 * hkv) * d), {b, t, hkv, d});
      return {slice_axis(qk, 1, 0, hq), slice_axis(qk, 1, hq, hq + hkv),
              transpose(v, {0, 2, 1, 3})};
    }
    auto qkv = qkv_(x);
    Array q = reshape(qkv[0], {b, t, hq, d});
    Array k = reshape(qkv[1], {b, t, hkv, d});
    Array v = reshape(qkv[2], {b, t, hkv, d});
    if (q_norm_) {
      q = (*q_norm_)(q);
      k = (*k_norm_)(k);
    }
    return {rotate(transpose(q, {0, 2, 1, 3})), rotate(transpose(k, {0, 2, 1, 3})),
            transpose(v, {0, 2, 1, 3})};
  }();
  fast::AttentionOptions mask;
  mask.causal = true;
  mask.window = spec_.window;
  Array all_keys = keys, all_values = values;
  if (at) {
    KVStep step = cache.update_at(keys, values, *at);
    all_keys = step.keys;
    all_values = step.values;
    mask.kv_length = step.length;
  } else {
    std::tie(all_keys, all_values) = cache.update(keys, values);
  }

  Array attn_output =
      spec_.logit_softcap
          ? softcapped_attention(queries, all_keys, all_values, spec_.scale, *spec_.logit_softcap,
                                 spec_.window)
          : fast::scaled_dot_product_attention(queries, all_keys, all_values, spec_.scale, mask);
  attn_output = reshape(transpose(attn_output, {0, 2, 1, 3}), {b, t, spec_.num_heads * d});
  return o_proj_(attn_output);
}

std::vector<Array> Attention::parameters() const {
  std::vector<Array> out = qkv_.parameters();
  auto o = o_proj_.parameters();
  out.insert(out.end(), o.begin(), o.end());
  if (q_norm_) {
    out.push_back(q_norm_->weight());
    out.push_back(k_norm_->weight());
  }
  if (qk_norm_weight_) out.push_back(*qk_norm_weight_);
  return out;
}

Array softcapped_attention(const Array& q, const Array& k, const Array& v, float scale, float cap,
                           int window) {
  const int64_t b = q.shape(0), hq = q.shape(1), tq = q.shape(2), d = q.shape(3);
  const int64_t hkv = k.shape(1), tk = k.shape(2), group = hq / hkv;
  // Query heads that share a kv head become rows of one product.
  Array q_grouped = reshape(q, {b, hkv, group * tq, d});
  Array scores = astype(matmul(q_grouped, swapaxes(k, 2, 3)), float32) * scale;
  scores = tanh(scores / cap) * cap;
  // Query i sits at key position i + tk - tq.
  Array query_pos = reshape(arange(tk - tq, tk, 1, int32), {tq, 1});
  Array key_pos = reshape(arange(0, tk, 1, int32), {1, tk});
  Array allowed = key_pos <= query_pos;
  if (window > 0) allowed = logical_and(allowed, key_pos > query_pos - window);
  scores = reshape(scores, {b, hkv, group, tq, tk});
  scores = where(allowed, scores, Array(-std::numeric_limits<float>::infinity()));
  Array probs = astype(softmax(scores, -1), v.dtype());
  Array out = matmul(reshape(probs, {b, hkv, group * tq, tk}), v);
  return reshape(out, {b, hq, tq, v.shape(3)});
}

}  // namespace lathe::nn
