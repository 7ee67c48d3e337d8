// The fused sampling primitive (lathe::fast::sample_tokens) and the arithmetic its CPU and
// CUDA kernels share bit for bit: the order-preserving key of a float, the fixed-point weight
// exp(x - max) and the scaled draw target.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "lathe/core/primitive.h"
#include "lathe/ops/sampling.h"

#ifdef __CUDACC__
#define LATHE_HD __host__ __device__ __forceinline__
#else
#define LATHE_HD inline
#endif

namespace lathe {

// Inputs: logits [B, V], then uniforms [B] unless greedy, prompt_counts [B, V] when
// params.uses_prompt_counts(), generated_counts [B, V] when params.uses_generated_counts().
// Output int32 [B].
class SampleTokens : public Primitive {
 public:
  explicit SampleTokens(const fast::SamplingParams& p) : p_(p) {}
  const char* name() const override { return "sample_tokens"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const SampleTokens&>(o).p_;
    return p.temperature == p_.temperature && p.top_k == p_.top_k && p.top_p == p_.top_p &&
           p.min_p == p_.min_p && p.repetition_penalty == p_.repetition_penalty &&
           p.presence_penalty == p_.presence_penalty && p.frequency_penalty == p_.frequency_penalty;
  }
  std::string describe() const override;

 private:
  fast::SamplingParams p_;
};

// Inputs: counts float32 [B, V], tokens int32 [B]. Output: counts with one more at
// (r, tokens[r]), in counts' buffer when it can be donated.
class CountTokens : public Primitive {
 public:
  const char* name() const override { return "count_tokens"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
};

namespace sampling {

// The weights' fixed-point scale: V weights of at most 2^S sum below 2^62.
inline int scale_bits(int64_t v) { return 62 - static_cast<int>(std::bit_width(uint64_t(v))); }

// Unsigned keys in the order of the floats (-0 and +0 share one; NaN is never keyed).
LATHE_HD uint32_t key_of(float x) {
  if (x == 0.0f) x = 0.0f;
  uint32_t b;
#ifdef __CUDA_ARCH__
  b = __float_as_uint(x);
#else
  std::memcpy(&b, &x, sizeof b);
#endif
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// exp(d) for d <= 0 in float32 from correctly rounded operations only (fmaf, products and
// sums written so that no compiler contracts them), so that the CPU and the GPU get the
// same bits: d = n ln2 + r with |r| <= ln2 / 2, a degree-7 Taylor polynomial of r, times 2^n.
// Within about 2 ulp of exp; 0 below 2^-125.
LATHE_HD float exp_nonpositive(float d) {
  if (!(d > -86.0f)) return 0.0f;  // also -inf and NaN
#ifdef __CUDA_ARCH__
  const float n = rintf(__fmul_rn(d, 1.44269504f));
#else
  const float n = __builtin_rintf(d * 1.44269504f);
#endif
  float r = fmaf(-n, 0.693145752f, d);  // ln2 split: hi has 16 significant bits
  r = fmaf(-n, 1.42860677e-06f, r);
  float p = 1.98412698e-04f;  // 1/7!
  p = fmaf(p, r, 1.38888889e-03f);
  p = fmaf(p, r, 8.33333333e-03f);
  p = fmaf(p, r, 4.16666667e-02f);
  p = fmaf(p, r, 1.66666667e-01f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  const int e = static_cast<int>(n) + 127;  // n in [-124, 0]: 2^n is a normal float
  uint32_t bits = static_cast<uint32_t>(e) << 23;
  float scale;
#ifdef __CUDA_ARCH__
  scale = __uint_as_float(bits);
  return __fmul_rn(p, scale);
#else
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
#endif
}

// The fixed-point weight of x given the row's largest non-NaN logit m.
LATHE_HD uint64_t weight_of(float x, float m, int s) {
  if (x != x) return 0;
  if (!(m - m == 0.0f)) return x == m ? (uint64_t(1) << s) : 0;  // m infinite
#ifdef __CUDA_ARCH__
  const float d = __fsub_rn(x, m);
  return static_cast<uint64_t>(__dmul_rn(double(exp_nonpositive(d)), double(uint64_t(1) << s)));
#else
  const float d = x - m;
  return static_cast<uint64_t>(double(exp_nonpositive(d)) * double(uint64_t(1) << s));
#endif
}

// floor(k * total / 2^24) for the draw index k = floor(u * 2^24) in [0, 2^24), exactly:
// below total whenever total > 0.
LATHE_HD uint64_t draw_target(float u, uint64_t total) {
  double scaled = double(u) * 16777216.0;
  uint64_t k = scaled <= 0.0 ? 0 : (scaled >= 16777215.0 ? 16777215u : uint64_t(scaled));
  return k * (total >> 24) + ((k * (total & 0xffffffu)) >> 24);
}

}  // namespace sampling
}  // namespace lathe
