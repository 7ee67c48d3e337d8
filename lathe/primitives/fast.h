// Primitives of the fused ops (lathe::fast): normalizations, rotary position
// embeddings and attention, each computed in one pass with float accumulation.
#pragma once

#include <string>

#include "lathe/core/primitive.h"

namespace lathe {

// rms_norm and layer_norm over the last axis. Inputs: x, then weight and bias
// when present (1-D, the size of the last axis). rms_norm with a residual (the last input, x's
// shape and dtype) adds it: residual + rms_norm(x), the norm rounded to x's dtype first.
class RmsNorm : public Primitive {
 public:
  RmsNorm(float eps, bool has_weight, bool has_residual = false)
      : eps_(eps), has_weight_(has_weight), has_residual_(has_residual) {}
  const char* name() const override { return "rms_norm"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const RmsNorm&>(o);
    return p.eps_ == eps_ && p.has_weight_ == has_weight_ && p.has_residual_ == has_residual_;
  }
  std::string describe() const override {
    return std::string(has_residual_ ? "residual + " : "") + "rms_norm(eps=" +
           std::to_string(eps_) + ")";
  }

 private:
  float eps_;
  bool has_weight_;
  bool has_residual_;
};

class LayerNorm : public Primitive {
 public:
  LayerNorm(float eps, bool has_weight, bool has_bias)
      : eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  const char* name() const override { return "layer_norm"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const LayerNorm&>(o);
    return p.eps_ == eps_ && p.has_weight_ == has_weight_ && p.has_bias_ == has_bias_;
  }
  std::string describe() const override { return "layer_norm(eps=" + std::to_string(eps_) + ")"; }

 private:
  float eps_;
  bool has_weight_, has_bias_;
};

// Channels-last group norm: x [B, ..., C]; statistics per (batch, group) over
// every position and the C / groups channels of the group.
class GroupNorm : public Primitive {
 public:
  GroupNorm(int groups, float eps, bool has_weight, bool has_bias)
      : groups_(groups), eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  const char* name() const override { return "group_norm"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const GroupNorm&>(o);
    return p.groups_ == groups_ && p.eps_ == eps_ && p.has_weight_ == has_weight_ &&
           p.has_bias_ == has_bias_;
  }
  std::string describe() const override {
    return "group_norm(groups=" + std::to_string(groups_) + ", eps=" + std::to_string(eps_) + ")";
  }

 private:
  int groups_;
  float eps_;
  bool has_weight_, has_bias_;
};

// Rotary embedding of x [..., T, D]. Inputs: x, then the offset array (int32,
// scalar or one per leading batch entry) when the offset is data, then freqs
// ([dims / 2]) when given; otherwise the offset and base are parameters.
class Rope : public Primitive {
 public:
  struct Params {
    int dims;
    bool traditional;
    float base;  // unused with freqs
    float scale;
    int offset;  // unused with an offset array
    bool offset_is_array;
    bool has_freqs;
  };
  explicit Rope(Params p) : p_(p) {}
  const char* name() const override { return "rope"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& q = static_cast<const Rope&>(o).p_;
    return q.dims == p_.dims && q.traditional == p_.traditional && q.base == p_.base &&
           q.scale == p_.scale && q.offset == p_.offset &&
           q.offset_is_array == p_.offset_is_array && q.has_freqs == p_.has_freqs;
  }
  std::string describe() const override;

 private:
  Params p_;
};

// Attention over q [B, Hq, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv].
// Inputs: q, k, v, then the mask array, the sinks ([Hq]) and the int32 key
// lengths ([B], possibly a broadcast view) when present.
class Attention : public Primitive {
 public:
  struct Params {
    float scale;
    bool causal;
    int window;  // 0: no sliding window
    bool has_mask;
    bool has_sinks;
    bool has_kv_length;
  };
  explicit Attention(Params p) : p_(p) {}
  const char* name() const override { return "scaled_dot_product_attention"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& q = static_cast<const Attention&>(o).p_;
    return q.scale == p_.scale && q.causal == p_.causal && q.window == p_.window &&
           q.has_mask == p_.has_mask && q.has_sinks == p_.has_sinks &&
           q.has_kv_length == p_.has_kv_length;
  }
  std::string describe() const override;

 private:
  Params p_;
};

}  // namespace lathe
