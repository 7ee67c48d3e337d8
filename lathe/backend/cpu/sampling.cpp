// CPU kernels of sample_tokens and count_tokens. Per row of sample_tokens: the processed
// logits (or the row itself when nothing changes it), keys and integer weights once, the
// top-k threshold by nth_element, the top-p threshold by one histogram pass over the top 11
// bits of the keys and a weighted quickselect inside the bin that holds it, then one scan for
// the draw. Rows run in parallel; line buffers come from the caching allocator.
#include "lathe/primitives/sampling.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <memory>
#include <utility>

#include "lathe/backend/cpu/parallel.h"
#include "lathe/backend/cpu/region_copy.h"
#include "lathe/backend/cpu/simd.h"

namespace lathe {

using detail::Node;

namespace {

using Candidate = std::pair<uint32_t, uint64_t>;  // key, weight

// The smallest key t among [lo, hi) whose weight strictly above it (plus `above`, the
// weight above the whole range) is below limit: partition around a median pivot into
// greater / equal / less and keep the side that holds t. above < limit holds throughout,
// so the greater side is never empty when it is chosen and every round drops the pivot.
uint32_t weighted_select(Candidate* lo, Candidate* hi, uint64_t above, double limit) {
  for (;;) {
    Candidate* mid = lo + (hi - lo) / 2;
    std::nth_element(lo, mid, hi,
                     [](const Candidate& a, const Candidate& b) { return a.first > b.first; });
    const uint32_t pivot = mid->first;
    Candidate* greater_end =
        std::partition(lo, hi, [&](const Candidate& e) { return e.first > pivot; });
    Candidate* equal_end =
        std::partition(greater_end, hi, [&](const Candidate& e) { return e.first == pivot; });
    uint64_t m1 = 0, m2 = 0;
    for (Candidate* e = lo; e != greater_end; ++e) m1 += e->second;
    for (Candidate* e = greater_end; e != equal_end; ++e) m2 += e->second;
    if (double(above + m1) >= limit) {
      hi = greater_end;
      continue;
    }
    if (equal_end == hi || double(above + m1 + m2) >= limit) return pivot;
    above += m1 + m2;
    lo = equal_end;
  }
}

// The top-p threshold key over the tokens with key >= floor_key. Weightless tokens lie below
// every weighted one with all the mass above them, so they never pass and are left out.
uint32_t top_p_key(const uint32_t* keys, const uint64_t* w, int64_t n, uint32_t floor_key,
                   double limit, Candidate* cand) {
  constexpr int kBins = 2048;
  std::array<uint32_t, kBins> count{};
  std::array<uint64_t, kBins> mass{};
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] == 0 || keys[i] < floor_key) continue;
    count[keys[i] >> 21]++;
    mass[keys[i] >> 21] += w[i];
  }
  // The lowest non-empty bin whose mass above stays below the limit holds the threshold.
  uint64_t above = 0, bin_above = 0;
  uint32_t bin = 0;
  for (int b = kBins - 1; b >= 0; --b) {
    if (count[b] == 0) continue;
    if (!(double(above) < limit)) break;
    bin = static_cast<uint32_t>(b);
    bin_above = above;
    above += mass[b];
  }
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i)
    if (w[i] != 0 && keys[i] >= floor_key && (keys[i] >> 21) == bin) cand[m++] = {keys[i], w[i]};
  return weighted_select(cand, cand + m, bin_above, limit);
}

// Row r of a [B, V] node as float32 into dst.
void load_row(const Node& a, int64_t r, float* dst, int64_t v) {
  const char* base = static_cast<const char*>(a.raw());
  const size_t es = a.dtype.size();
  const int64_t s0 = a.strides[0], s1 = a.strides[1];
  if (s1 == 1) {
    convert_elements(base + r * s0 * es, a.dtype, dst, float32, static_cast<size_t>(v));
    return;
  }
  for (int64_t i = 0; i < v; ++i)
    convert_elements(base + (r * s0 + i * s1) * es, a.dtype, dst + i, float32, 1);
}

template <typename T>
T* buffer(std::shared_ptr<Buffer>& b, int64_t n) {
  b = cpu_allocator().allocate(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T));
  return static_cast<T*>(b->ptr());
}

// The rows of one parallel chunk, with line buffers shared by its rows.
class RowKernel {
 public:
  RowKernel(const fast::SamplingParams& p, const NodeList& in, int64_t v)
      : p_(p), logits_(*in[0]), v_(v), scale_(sampling::scale_bits(v)) {
    size_t k = 1;
    if (!p.greedy()) uniforms_ = in[k++];
    if (p.uses_prompt_counts()) prompt_ = in[k++];
    if (p.uses_generated_counts()) generated_ = in[k++];
    x_ = buffer<float>(xb_, v);
    if (p.greedy()) return;
    keys_ = buffer<uint32_t>(kb_, v);
    weights_ = buffer<uint64_t>(wb_, v);
    if (p.top_k > 0 && p.top_k < v) tmp_ = buffer<float>(tb_, v);
    if (p.top_p < 1.0) cand_ = buffer<Candidate>(cb_, v);
  }

  int32_t run(int64_t r) {
    const float* x = process(r);
    return p_.greedy() ? argmax(x) : draw(x, r);
  }

 private:
  float count_at(const Node& n, int64_t r, int64_t i) const {
    return n.data<float>()[r * n.strides[0] + i * n.strides[1]];
  }

  // Steps 1-3 (the same float32 operations as the ops of the slow twin). The row itself when
  // it is contiguous float32 that nothing changes.
  const float* process(int64_t r) {
    const bool rep = p_.uses_prompt_counts();
    const bool pf = p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
    const bool scale_t = !p_.greedy() && p_.temperature != 1.0f;
    if (!rep && !pf && !scale_t && logits_.dtype == float32 && logits_.strides[1] == 1)
      return logits_.data<float>() + r * logits_.strides[0];
    float* x = x_;
    load_row(logits_, r, x, v_);
    if (rep || pf) {
      for (int64_t i = 0; i < v_; ++i) {
        const float g = count_at(*generated_, r, i);
        if (rep && (count_at(*prompt_, r, i) > 0.0f || g > 0.0f))
          x[i] = x[i] < 0.0f ? x[i] * p_.repetition_penalty : x[i] / p_.repetition_penalty;
        if (pf) {
          const float present = g > 0.0f ? 1.0f : 0.0f;
          x[i] = x[i] - present * p_.presence_penalty;
          x[i] = x[i] - g * p_.frequency_penalty;
        }
      }
    }
    if (scale_t)
      for (int64_t i = 0; i < v_; ++i) x[i] = x[i] / p_.temperature;
    return x;
  }

  // The largest value, NaN if there is one.
  float max_nan(const float* x) const {
    if (v_ >= 8) return cpu::simd::extreme<true>(x, v_);
    float m = x[0];
    for (int64_t i = 1; i < v_ && !std::isnan(m); ++i)
      if (x[i] > m || std::isnan(x[i])) m = x[i];
    return m;
  }

  // The first maximum; a NaN wins (as argmax).
  int32_t argmax(const float* x) const {
    const float m = max_nan(x);
    const bool nan = std::isnan(m);
    for (int64_t i = 0; i < v_; ++i)
      if (nan ? std::isnan(x[i]) : x[i] == m) return static_cast<int32_t>(i);
    return 0;
  }

  int32_t draw(const float* x, int64_t r) {
    // The largest non-NaN value.
    float m = max_nan(x);
    if (std::isnan(m)) {
      bool any = false;
      for (int64_t i = 0; i < v_; ++i) {
        if (std::isnan(x[i])) continue;
        if (!any || x[i] > m) m = x[i];
        any = true;
      }
      if (!any) return 0;
    }
    // NaN gets key 0 and weight 0: never kept, never drawn.
    for (int64_t i = 0; i < v_; ++i) {
      const bool nan = std::isnan(x[i]);
      keys_[i] = nan ? 0 : sampling::key_of(x[i]);
      weights_[i] = nan ? 0 : sampling::weight_of(x[i], m, scale_);
    }
    uint32_t floor_key = 0;
    if (tmp_) {
      int64_t n = 0;
      for (int64_t i = 0; i < v_; ++i)
        if (!std::isnan(x[i])) tmp_[n++] = x[i];
      if (p_.top_k < n) {
        std::nth_element(tmp_, tmp_ + (p_.top_k - 1), tmp_ + n, std::greater<>());
        floor_key = sampling::key_of(tmp_[p_.top_k - 1]);
      }
    }
    if (cand_) {
      uint64_t total = 0;
      for (int64_t i = 0; i < v_; ++i)
        if (keys_[i] >= floor_key) total += weights_[i];
      floor_key = top_p_key(keys_, weights_, v_, floor_key, p_.top_p * double(total), cand_);
    }
    if (p_.min_p > 0.0) {
      const float threshold = m + static_cast<float>(std::log(p_.min_p));
      floor_key = std::max(floor_key, sampling::key_of(threshold));
    }
    uint64_t total = 0;
    for (int64_t i = 0; i < v_; ++i)
      if (keys_[i] >= floor_key) total += weights_[i];
    const uint64_t target =
        sampling::draw_target(uniforms_->data<float>()[r * uniforms_->strides[0]], total);
    uint64_t cum = 0;
    int64_t last = 0;
    for (int64_t i = 0; i < v_; ++i) {
      if (keys_[i] < floor_key || weights_[i] == 0) continue;
      cum += weights_[i];
      last = i;
      if (cum > target) return static_cast<int32_t>(i);
    }
    return static_cast<int32_t>(last);  // unreachable: target < total
  }

  const fast::SamplingParams& p_;
  const Node& logits_;
  const Node* uniforms_ = nullptr;
  const Node* prompt_ = nullptr;
  const Node* generated_ = nullptr;
  int64_t v_;
  int scale_;
  std::shared_ptr<Buffer> xb_, kb_, wb_, tb_, cb_;
  float* x_ = nullptr;
  uint32_t* keys_ = nullptr;
  uint64_t* weights_ = nullptr;
  float* tmp_ = nullptr;
  Candidate* cand_ = nullptr;
};

}  // namespace

void SampleTokens::eval_cpu(const NodeList& in, Node& out) {
  out.allocate();
  const int64_t rows = in[0]->shape[0], v = in[0]->shape[1];
  int32_t* o = out.data<int32_t>();
  const int64_t grain = std::max<int64_t>(1, 65536 / v);
  cpu::parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    RowKernel kernel(p_, in, v);
    for (int64_t r = begin; r < end; ++r) o[r] = kernel.run(r);
  });
}

void CountTokens::eval_cpu(const NodeList& in, Node& out) {
  const Node& ids = *in[1];
  cpu::copy_or_donate(*in[0], out);
  const int64_t rows = out.shape[0], v = out.shape[1];
  float* o = out.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t id = ids.data<int32_t>()[r * ids.strides[0]];
    if (id >= 0 && id < v) o[r * v + id] += 1.0f;
  }
}

}  // namespace lathe
