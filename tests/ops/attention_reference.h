// The float64 reference of scaled_dot_product_attention and the inputs its
// tests share: a plain loop over (batch, head, query, key) with GQA, causal
// and sliding-window limits, masks broadcast to [B, H, Tq, Tk] and sinks.
#pragma once

#include <cmath>
#include <limits>
#include <optional>

#include "ops/fast_support.h"

namespace lathe::testing {

struct RefOptions {
  bool causal = false;
  int window = 0;
  std::optional<Host> mask;  // values as given: bool as 0/1 or additive
  bool bool_mask = false;
  std::optional<Host> sinks;
};

// Element of a mask broadcast to [B, H, Tq, Tk].
inline double mask_at(const Host& m, int64_t b, int64_t h, int64_t i, int64_t j) {
  const int64_t idx[4] = {b, h, i, j};
  const int nd = static_cast<int>(m.shape.size());
  size_t off = 0;
  for (int d = 0; d < nd; ++d) {
    int64_t dim = m.shape[d];
    off = off * dim + (dim == 1 ? 0 : idx[4 - nd + d]);
  }
  return m[off];
}

inline Host ref_attention(const Host& q, const Host& k, const Host& v, double scale,
                          const RefOptions& o) {
  const int64_t B = q.shape[0], Hq = q.shape[1], Tq = q.shape[2], D = q.shape[3];
  const int64_t Hkv = k.shape[1], Tk = k.shape[2], Dv = v.shape[3], G = Hq / Hkv;
  Host out{{B, Hq, Tq, Dv}, std::vector<double>(B * Hq * Tq * Dv, 0.0)};
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t kh = h / G;
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t pos = i + Tk - Tq;
        std::vector<double> s(Tk, ninf);
        for (int64_t j = 0; j < Tk; ++j) {
          bool allowed = true;
          if ((o.causal || o.window > 0) && j > pos) allowed = false;
          if (o.window > 0 && j <= pos - o.window) allowed = false;
          double add = 0;
          if (o.mask) {
            double mv = mask_at(*o.mask, b, h, i, j);
            if (o.bool_mask) {
              allowed = allowed && mv != 0;
            } else {
              add = mv;
            }
          }
          if (!allowed) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) {
            dot += q[((b * Hq + h) * Tq + i) * D + d] * k[((b * Hkv + kh) * Tk + j) * D + d];
          }
          s[j] = dot * scale + add;
        }
        double m = o.sinks ? (*o.sinks)[h] : ninf;
        for (double x : s) m = std::max(m, x);
        if (m == ninf) continue;  // nothing to attend: zeros
        double denom = o.sinks ? std::exp((*o.sinks)[h] - m) : 0.0;
        for (double x : s) denom += std::exp(x - m);
        for (int64_t j = 0; j < Tk; ++j) {
          double w = std::exp(s[j] - m) / denom;
          for (int64_t d = 0; d < Dv; ++d) {
            out[((b * Hq + h) * Tq + i) * Dv + d] += w * v[((b * Hkv + kh) * Tk + j) * Dv + d];
          }
        }
      }
    }
  }
  return out;
}

inline Tol attn_tol(Dtype dt) { return scaled(default_tol(dt), dt == float32 ? 8 : 2); }

struct Inputs {
  Host q, k, v;
};

inline Inputs random_inputs(Dtype dt, int64_t b, int64_t hq, int64_t hkv, int64_t tq, int64_t tk,
                            int64_t d, int64_t dv, uint64_t seed, double range = 2.0) {
  return {random_host({b, hq, tq, d}, dt, seed, -range, range),
          random_host({b, hkv, tk, d}, dt, seed + 1, -range, range),
          random_host({b, hkv, tk, dv}, dt, seed + 2, -2, 2)};
}

inline fast::AttentionOptions to_options(const RefOptions& r, Dtype mask_dtype) {
  fast::AttentionOptions o;
  o.causal = r.causal;
  o.window = r.window;
  if (r.mask) o.mask = make_array(*r.mask, r.bool_mask ? bool_ : mask_dtype);
  if (r.sinks) o.sinks = make_array(*r.sinks, float32);
  return o;
}

}  // namespace lathe::testing
