// CPU kernel of scaled_dot_product_attention: an online (streaming) softmax
// over blocks of keys. The query heads that share a kv head, and a tile of
// queries, are processed together so that each K/V block is converted once
// and reused; decode (Tq = 1) reads K and V exactly once.
#include <algorithm>
#include <cmath>
#include <limits>

#include "lathe/backend/cpu/fast_common.h"
#include "lathe/primitives/fast.h"

namespace lathe {

using detail::Node;

namespace {

constexpr int64_t kKeyBlock = 64;
constexpr int64_t kMaxRows = 16;  // (query head, query) rows per tile

template <typename A>
A dot(const A* a, const A* b, int64_t n) {
  A acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  for (; i < n; ++i) acc[0] += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// One row of the mask as additive values: bool false becomes -inf.
template <typename A>
void load_mask(const Node& m, int64_t off, int64_t stride, int64_t n, A* dst) {
  if (m.dtype == bool_) {
    const bool* p = m.data<bool>() + off;
    for (int64_t j = 0; j < n; ++j) {
      dst[j] = p[j * stride] ? A(0) : -std::numeric_limits<A>::infinity();
    }
    return;
  }
  cpu::dispatch_float(m.dtype, "scaled_dot_product_attention", [&](auto t) {
    using M = decltype(t);
    cpu::load_row(m.data<M>() + off, stride, n, dst);
  });
}

struct Dims {
  int64_t b, hq, tq, d, hkv, tk, dv, group;
};

template <typename T>
void attention_typed(const NodeList& in, Node& out, const Attention::Params& p, const Dims& n,
                     const std::vector<double>& sinks, const std::vector<int64_t>& lengths) {
  using A = cpu::acc_t<T>;
  constexpr A neg_inf = -std::numeric_limits<A>::infinity();
  const Node& q = *in[0];
  const Node& k = *in[1];
  const Node& v = *in[2];
  const Node* mask = p.has_mask ? in[3] : nullptr;
  Strides ms;
  if (mask) ms = broadcast_strides(*mask, Shape{n.b, n.hq, n.tq, n.tk});
  const Strides &qs = q.strides, &ks = k.strides, &vs = v.strides;

  const int64_t q_tile = std::max<int64_t>(1, kMaxRows / n.group);
  const int64_t max_rows = q_tile * n.group;
  std::vector<A> qbuf(max_rows * n.d), acc(max_rows * n.dv), kbuf(kKeyBlock * n.d),
      vbuf(kKeyBlock * n.dv), scores(kKeyBlock), mrow(kKeyBlock);
  std::vector<A> run_max(max_rows), run_sum(max_rows);
  std::vector<int64_t> lo(max_rows), hi(max_rows), row_h(max_rows), row_t(max_rows);
  const bool limit_above = p.causal || p.window > 0;
  T* dst = out.data<T>();

  for (int64_t b = 0; b < n.b; ++b) {
    // Keys present for this batch entry (kv_length), queries aligned to their end.
    const int64_t tk = lengths.empty() ? n.tk : std::clamp<int64_t>(lengths[b], 0, n.tk);
    for (int64_t kh = 0; kh < n.hkv; ++kh) {
      const T* kp = k.data<T>() + b * ks[0] + kh * ks[1];
      const T* vp = v.data<T>() + b * vs[0] + kh * vs[1];
      for (int64_t t0 = 0; t0 < n.tq; t0 += q_tile) {
        const int64_t t1 = std::min(n.tq, t0 + q_tile);
        int64_t rows = 0, key_lo = tk, key_hi = -1;
        for (int64_t g = 0; g < n.group; ++g) {
          for (int64_t t = t0; t < t1; ++t, ++rows) {
            const int64_t h = kh * n.group + g, pos = t + tk - n.tq;
            row_h[rows] = h;
            row_t[rows] = t;
            lo[rows] = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
            hi[rows] = limit_above ? std::min(pos, tk - 1) : tk - 1;
            if (lo[rows] <= hi[rows]) {
              key_lo = std::min(key_lo, lo[rows]);
              key_hi = std::max(key_hi, hi[rows]);
            }
            A* qr = qbuf.data() + rows * n.d;
            cpu::load_row(q.data<T>() + b * qs[0] + h * qs[1] + t * qs[2], qs[3], n.d, qr);
            for (int64_t i = 0; i < n.d; ++i) qr[i] *= static_cast<A>(p.scale);
            run_max[rows] = neg_inf;
            run_sum[rows] = 0;
          }
        }
        std::fill(acc.begin(), acc.begin() + rows * n.dv, A(0));

        for (int64_t j0 = key_lo; j0 <= key_hi; j0 += kKeyBlock) {
          const int64_t jn = std::min(kKeyBlock, key_hi + 1 - j0);
          for (int64_t j = 0; j < jn; ++j) {
            cpu::load_row(kp + (j0 + j) * ks[2], ks[3], n.d, kbuf.data() + j * n.d);
            cpu::load_row(vp + (j0 + j) * vs[2], vs[3], n.dv, vbuf.data() + j * n.dv);
          }
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t a = std::max(lo[r], j0) - j0, e = std::min(hi[r], j0 + jn - 1) - j0;
            if (a > e) continue;
            if (mask) {
              load_mask(*mask, b * ms[0] + row_h[r] * ms[1] + row_t[r] * ms[2] + (j0 + a) * ms[3],
                        ms[3], e - a + 1, mrow.data());
            }
            const A* qr = qbuf.data() + r * n.d;
            A block_max = neg_inf;
            for (int64_t j = a; j <= e; ++j) {
              A s = dot(qr, kbuf.data() + j * n.d, n.d);
              if (mask) s += mrow[j - a];
              scores[j] = s;
              block_max = std::max(block_max, s);
            }
            if (block_max == neg_inf) continue;
            const A new_max = std::max(run_max[r], block_max);
            A* ar = acc.data() + r * n.dv;
            if (new_max > run_max[r]) {
              const A c = std::exp(run_max[r] - new_max);
              run_sum[r] *= c;
              for (int64_t i = 0; i < n.dv; ++i) ar[i] *= c;
              run_max[r] = new_max;
            }
            for (int64_t j = a; j <= e; ++j) {
              const A w = std::exp(scores[j] - new_max);
              run_sum[r] += w;
              const A* vr = vbuf.data() + j * n.dv;
              for (int64_t i = 0; i < n.dv; ++i) ar[i] += w * vr[i];
            }
          }
        }

        for (int64_t r = 0; r < rows; ++r) {
          A denom = run_sum[r];
          A c = 1;
          if (!sinks.empty()) {
            const A s = static_cast<A>(sinks[row_h[r]]);
            const A m = std::max(run_max[r], s);
            c = std::exp(run_max[r] - m);
            denom = denom * c + std::exp(s - m);
          }
          const A f = denom > 0 ? c / denom : A(0);
          const A* ar = acc.data() + r * n.dv;
          T* y = dst + ((b * n.hq + row_h[r]) * n.tq + row_t[r]) * n.dv;
          for (int64_t i = 0; i < n.dv; ++i) y[i] = static_cast<T>(ar[i] * f);
        }
      }
    }
  }
}

}  // namespace

void Attention::eval_cpu(const NodeList& in, Node& out) {
  const Node& q = *in[0];
  const Node& k = *in[1];
  const Node& v = *in[2];
  out.allocate();
  if (out.size() == 0) return;
  Dims n{q.shape[0], q.shape[1], q.shape[2], q.shape[3],
         k.shape[1], k.shape[2], v.shape[3], q.shape[1] / k.shape[1]};
  std::vector<double> sinks;
  if (p_.has_sinks) sinks = cpu::load_f64(*in[p_.has_mask ? 4 : 3]);
  std::vector<int64_t> lengths;
  if (p_.has_kv_length) {
    const Node& len = *in[3 + p_.has_mask + p_.has_sinks];
    for (int64_t b = 0; b < n.b; ++b) lengths.push_back(len.data<int32_t>()[b * len.strides[0]]);
  }
  cpu::dispatch_float(q.dtype, name(), [&](auto t) {
    attention_typed<decltype(t)>(in, out, p_, n, sinks, lengths);
  });
}

}  // namespace lathe
