// Random primitives. Every element is a pure function of (key, element index):
// element i of a draw uses block(key, i) = threefry2x32(key, (i >> 32, i & ~0u))
// (see threefry.h), so any backend, thread split or tiling gives the same numbers,
// and a draw of shape S is a prefix of a draw of a larger size.
//
// From the block (y0, y1) of element i:
//   bits   width 4: y0 ^ y1; width 1: the low byte of y0 ^ y1
//   split  row i = (y0, y1)
//   uniform  float32: ((y0 ^ y1) >> 8) * 2^-24, float16: >> 21, * 2^-11, bfloat16: >> 24,
//            * 2^-8, float64: (y0:y1 >> 11) * 2^-53; then low + (high - low) * u, kept below high
//   normal   u = ((y0:y1 >> 11) + 0.5) * 2^-53 in (0, 1); loc + scale * Phi^-1(u), in float64
//   gumbel   the same u; -log(-log(u)), in float64
//   randint  low + floor(y0:y1 * (high - low) / 2^64)
// where y0:y1 is the 64-bit word (y0 << 32) | y1.
#pragma once

#include "lathe/core/primitive.h"

namespace lathe {

enum class RandomKind { bits, split, uniform, normal, gumbel, randint };

// Input: the key (uint32 [2]). a, b: (low, high) for uniform, (loc, scale) for
// normal; ilow, ihigh: the range of randint.
class RandomDraw : public Primitive {
 public:
  RandomDraw(RandomKind kind, double a, double b, int64_t ilow = 0, int64_t ihigh = 0)
      : kind_(kind), a_(a), b_(b), ilow_(ilow), ihigh_(ihigh) {}
  const char* name() const override;
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const RandomDraw&>(o);
    return p.kind_ == kind_ && p.a_ == a_ && p.b_ == b_ && p.ilow_ == ilow_ && p.ihigh_ == ihigh_;
  }
  std::string describe() const override;
  RandomKind kind() const { return kind_; }

 private:
  RandomKind kind_;
  double a_, b_;
  int64_t ilow_, ihigh_;
};

// Inputs: logits and the key. Gumbel-max sampling along `axis`: with the
// logits' other dimensions flattened row-major into R rows of V classes, and S
// samples per row, sample s of row r is argmax_j(logits[r, j] + g[(r * S + s) * V + j])
// where g is gumbel noise drawn with the key. Output int32: the logits' shape
// without `axis`, with S appended when num_samples > 0 (else S = 1).
class Categorical : public Primitive {
 public:
  Categorical(int axis, int num_samples) : axis_(axis), num_samples_(num_samples) {}
  const char* name() const override { return "categorical"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Categorical&>(o);
    return p.axis_ == axis_ && p.num_samples_ == num_samples_;
  }
  std::string describe() const override;

 private:
  int axis_;
  int num_samples_;  // 0: one sample, no extra dimension
};

}  // namespace lathe
