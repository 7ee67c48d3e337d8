// Multi-head self-attention as the Llama family writes it: q/k/v/o
// projections bound by their Hugging Face names, grouped-query heads,
// optional per-head q/k norms, rotary embeddings, a KV cache, and a causal
// (optionally sliding-window, optionally soft-capped) softmax.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "lathe/cache/kv_cache.h"
#include "lathe/nn/linear.h"
#include "lathe/nn/norm.h"
#include "lathe/nn/rope.h"
#include "lathe/nn/shard.h"

namespace lathe::nn {

struct AttentionSpec {
  int hidden_size = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  float scale = 0;  // applied to q k^T
  bool qkv_bias = false;
  bool o_bias = false;
  int window = 0;  // sliding window (keys a query sees, itself included); 0: all
  std::optional<float> logit_softcap;  // Gemma: cap * tanh(scores / cap)
  enum class QkNorm { none, rms, gemma_rms } qk_norm = QkNorm::none;
  float norm_eps = 1e-6f;
};

// The heads one tensor-parallel rank computes: query heads split evenly
// (num_heads % size == 0), with the key/value heads they read. With fewer
// kv heads than ranks (size % num_kv_heads == 0), each kv head is replicated
// on the size / num_kv_heads ranks whose query heads use it, as vLLM does;
// any other split is a lathe::Error("[tp] ...") naming the counts.
struct HeadPart {
  int q_begin = 0, q_count = 0;
  int kv_begin = 0, kv_count = 0;
};
HeadPart head_part(int num_heads, int num_kv_heads, const Shard& shard);
// Why the heads do not split across `ranks` that way, or nothing when they do.
std::optional<std::string> head_split_problem(int num_heads, int num_kv_heads, int ranks);

class Attention {
 public:
  // Binds <prefix>.{q,k,v,o}_proj and, with qk norms, <prefix>.{q,k}_norm.
  // Split across ranks, q/k/v hold this rank's heads (HeadPart) and o_proj
  // the matching input features, its partial outputs summed across ranks.
  Attention(const Weights& w, const std::string& prefix, const AttentionSpec& spec,
            const Shard& shard = {});
  // x [B, T, hidden] at positions cache.offset() ..; appends to the cache.
  // With `at` (decode, T = 1): the position is data (rope offset, cache slot and
  // key count), so that the step's shapes and buffers do not change from one
  // token to the next (KVCache::update_at).
  Array operator()(const Array& x, KVCache& cache, const RotaryEmbedding& rope,
                   StepPosition* at = nullptr) const;
  // Whether positions as data are supported (not with logit soft-capping).
  bool takes_step_positions() const { return !spec_.logit_softcap; }
  std::vector<Array> parameters() const;

 private:
  Attention(const Weights& w, const std::string& prefix, const AttentionSpec& spec,
            const Shard& shard, const HeadPart& part);

  AttentionSpec spec_;  // num_heads and num_kv_heads: this rank's
  LinearGroup qkv_;  // q_proj, k_proj, v_proj
  Linear o_proj_;
  std::optional<RMSNorm> q_norm_, k_norm_;
  // With stacked q/k/v: q's and k's norm weights as one [q heads + kv heads, head_dim] weight,
  // so that one rms_norm and one rope cover the queries and the keys together.
  std::optional<Array> qk_norm_weight_;
};

// softmax(cap * tanh(q k^T * scale / cap) + causal/window mask) v, composed
// of primitive ops (the fused kernel has no soft-capping). Queries are
// aligned to the end of the keys, as in fast::scaled_dot_product_attention.
Array softcapped_attention(const Array& q, const Array& k, const Array& v, float scale, float cap,
                           int window);

}  // namespace lathe::nn
