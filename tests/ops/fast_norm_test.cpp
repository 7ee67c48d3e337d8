// fast::rms_norm, layer_norm and group_norm against float64 loops, every float
// dtype and memory layout.
#include <cmath>
#include <optional>

#include "ops/fast_support.h"

namespace lathe::testing {
namespace {

// Row-wise reference over the last axis: f(row, out_row, n).
template <typename F>
Host each_row(const Host& x, F f) {
  Host y = x;
  const size_t n = x.shape.back(), rows = n ? x.size() / n : 0;
  for (size_t r = 0; r < rows; ++r) f(&x.data[r * n], &y.data[r * n], n);
  return y;
}

Host ref_rms_norm(const Host& x, const std::optional<Host>& w, double eps) {
  return each_row(x, [&](const double* a, double* y, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += a[i] * a[i];
    double r = 1.0 / std::sqrt(ss / n + eps);
    for (size_t i = 0; i < n; ++i) y[i] = a[i] * r * (w ? (*w)[i] : 1.0);
  });
}

Host ref_layer_norm(const Host& x, const std::optional<Host>& w, const std::optional<Host>& b,
                    double eps) {
  return each_row(x, [&](const double* a, double* y, size_t n) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; ++i) mean += a[i];
    mean /= n;
    for (size_t i = 0; i < n; ++i) var += (a[i] - mean) * (a[i] - mean);
    var /= n;
    for (size_t i = 0; i < n; ++i) {
      y[i] = (a[i] - mean) / std::sqrt(var + eps) * (w ? (*w)[i] : 1.0) + (b ? (*b)[i] : 0.0);
    }
  });
}

// x [B, ..., C]: channel c of batch entry i belongs to group c / (C / groups).
Host ref_group_norm(const Host& x, int groups, const std::optional<Host>& w,
                    const std::optional<Host>& b, double eps) {
  Host y = x;
  const size_t c = x.shape.back(), batch = x.shape[0], per = c / groups;
  const size_t positions = x.size() / (batch * c);
  for (size_t i = 0; i < batch; ++i) {
    for (int g = 0; g < groups; ++g) {
      auto at = [&](size_t p, size_t k) { return (i * positions + p) * c + g * per + k; };
      double mean = 0, var = 0;
      for (size_t p = 0; p < positions; ++p)
        for (size_t k = 0; k < per; ++k) mean += x[at(p, k)];
      mean /= positions * per;
      for (size_t p = 0; p < positions; ++p)
        for (size_t k = 0; k < per; ++k) var += (x[at(p, k)] - mean) * (x[at(p, k)] - mean);
      var /= positions * per;
      for (size_t p = 0; p < positions; ++p) {
        for (size_t k = 0; k < per; ++k) {
          size_t ch = g * per + k;
          y[at(p, k)] = (x[at(p, k)] - mean) / std::sqrt(var + eps) * (w ? (*w)[ch] : 1.0) +
                        (b ? (*b)[ch] : 0.0);
        }
      }
    }
  }
  return y;
}

// Normalized results are O(1); float accumulation over a row adds a few ulps.
Tol norm_tol(Dtype dt) { return scaled(default_tol(dt), dt == float32 ? 8 : 2); }

TEST(FastNorm, RmsNormMatchesFloat64Reference) {
  uint64_t seed = 1;
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      for (bool with_weight : {true, false}) {
        Host x = random_host({3, 5, 72}, dt, seed++, -3, 3);
        Host w = random_host({72}, dt, seed++, 0.5, 1.5);
        std::optional<Array> wa;
        if (with_weight) wa = make_array(w, dt);
        Array y = fast::rms_norm(make_array(x, dt, layout), wa, 1e-5f);
        EXPECT_EQ(y.dtype(), dt);
        Host want =
            round_to(ref_rms_norm(x, with_weight ? std::optional(w) : std::nullopt, 1e-5), dt);
        EXPECT_TRUE(close(to_host(y), want, norm_tol(dt)))
            << dt.name() << " " << layout_name(layout) << " weight " << with_weight;
      }
    }
  }
}

TEST(FastNorm, RmsNormWithResidualIsTheTwoOpsInOnePass) {
  // residual + rms_norm(x): the same values as the two ops (the norm rounded to x's dtype,
  // then the sum rounded), and near the float64 reference; x and the residual in any layout.
  uint64_t seed = 100;
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      for (bool with_weight : {true, false}) {
        Host x = random_host({3, 5, 72}, dt, seed++, -3, 3);
        Host res = random_host({3, 5, 72}, dt, seed++, -3, 3);
        Host w = random_host({72}, float32, seed++, 0.5, 1.5);
        std::optional<Array> wa;
        if (with_weight) wa = make_array(w, float32);
        Array xa = make_array(x, dt, layout), ra = make_array(res, dt, layout);
        Array fused = fast::rms_norm(xa, wa, 1e-6f, ra);
        Array twin = ra + fast::rms_norm(xa, wa, 1e-6f);
        EXPECT_EQ(fused.dtype(), dt);
        Host got = to_host(fused);
        EXPECT_TRUE(close(got, to_host(twin), {0, 0}))
            << dt.name() << " " << layout_name(layout) << " weight " << with_weight;
        Host normed = ref_rms_norm(x, with_weight ? std::optional(w) : std::nullopt, 1e-6);
        Host want = round_to(zip(res, round_to(normed, dt), [](double a, double b) { return a + b; }), dt);
        const Tol t = norm_tol(dt);
        EXPECT_TRUE(close(got, want, {t.rtol, 4 * t.atol}))
            << dt.name() << " " << layout_name(layout) << " weight " << with_weight;
      }
    }
  }
  // A residual of another dtype or shape takes the two ops (promotion, broadcasting).
  Array x = make_array(random_host({2, 8}, bfloat16, 7), bfloat16);
  Array r32 = make_array(random_host({2, 8}, float32, 8), float32);
  Array y = fast::rms_norm(x, std::nullopt, 1e-6f, r32);
  EXPECT_EQ(y.dtype(), float32);
  EXPECT_TRUE(close(to_host(y), to_host(r32 + fast::rms_norm(x, std::nullopt, 1e-6f)), {0, 0}));
  Array row = make_array(random_host({8}, bfloat16, 9), bfloat16);
  EXPECT_EQ(fast::rms_norm(x, std::nullopt, 1e-6f, row).shape(), (Shape{2, 8}));
}

TEST(FastNorm, RmsNormTakesAWeightPerHead) {
  // x [B, T, heads, D] with a weight [heads, D] (q's and k's norms over their heads side by
  // side): each row of the last two axes takes its head's weight; broadcast rows work too.
  uint64_t seed = 300;
  for (Dtype dt : {float32, bfloat16}) {
    for (Layout layout : all_layouts) {
      Host x = random_host({2, 3, 5, 16}, dt, seed++, -3, 3);
      Host w = random_host({5, 16}, float32, seed++, 0.5, 1.5);
      Array y = fast::rms_norm(make_array(x, dt, layout), make_array(w, float32), 1e-6f);
      Host want = round_to(x, dt);
      const size_t n = 16;
      for (size_t r = 0; r < x.size() / n; ++r) {
        double ss = 0;
        for (size_t i = 0; i < n; ++i) ss += x[r * n + i] * x[r * n + i];
        const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
        for (size_t i = 0; i < n; ++i) want[r * n + i] = x[r * n + i] * inv * w[(r % 5) * n + i];
      }
      EXPECT_TRUE(close(to_host(y), round_to(want, dt), norm_tol(dt)))
          << dt.name() << " " << layout_name(layout);
    }
  }
  // A [heads, D] weight broadcast from one row equals the plain [D] weight.
  Host x = random_host({4, 3, 8}, float32, 1, -2, 2);
  Host w = random_host({8}, float32, 2, 0.5, 1.5);
  Array per_head = broadcast_to(make_array(w, float32), {3, 8});
  EXPECT_TRUE(close(to_host(fast::rms_norm(make_array(x, float32), per_head, 1e-6f)),
                    to_host(fast::rms_norm(make_array(x, float32), make_array(w, float32), 1e-6f)),
                    {0, 0}));
  // Another shape names the op.
  EXPECT_THROW(fast::rms_norm(make_array(x, float32), broadcast_to(make_array(w, float32), {4, 8}),
                              1e-6f),
               Error);
}

TEST(FastNorm, RmsNormWeightDtypeMayDiffer) {
  // A float32 weight on bfloat16 activations: the result keeps x's dtype.
  Host x = random_host({4, 32}, bfloat16, 11);
  Host w = random_host({32}, float32, 12, 0.5, 1.5);
  Array y = fast::rms_norm(make_array(x, bfloat16), make_array(w, float32), 1e-6f);
  EXPECT_EQ(y.dtype(), bfloat16);
  EXPECT_TRUE(close(to_host(y), round_to(ref_rms_norm(x, w, 1e-6), bfloat16), norm_tol(bfloat16)));
}

TEST(FastNorm, RmsNormEpsDominatesSmallRows) {
  // A zero row must give zeros (no NaN), and eps must enter as mean + eps.
  Host x{{2, 4}, {0, 0, 0, 0, 1e-3, -1e-3, 1e-3, -1e-3}};
  Host want = ref_rms_norm(x, std::nullopt, 1e-2);
  EXPECT_TRUE(close(to_host(fast::rms_norm(make_array(x, float32), std::nullopt, 1e-2f)),
                    round_to(want, float32), norm_tol(float32)));
}

TEST(FastNorm, LayerNormMatchesFloat64Reference) {
  uint64_t seed = 100;
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      for (int params = 0; params < 4; ++params) {
        bool has_w = params & 1, has_b = params & 2;
        Host x = random_host({2, 3, 40}, dt, seed++, -1, 3);
        Host w = random_host({40}, dt, seed++, 0.5, 1.5);
        Host b = random_host({40}, dt, seed++, -1, 1);
        std::optional<Array> wa, ba;
        if (has_w) wa = make_array(w, dt);
        if (has_b) ba = make_array(b, dt);
        Array y = fast::layer_norm(make_array(x, dt, layout), wa, ba, 1e-5f);
        Host want = ref_layer_norm(x, has_w ? std::optional(w) : std::nullopt,
                                   has_b ? std::optional(b) : std::nullopt, 1e-5);
        EXPECT_TRUE(close(to_host(y), round_to(want, dt), norm_tol(dt)))
            << dt.name() << " " << layout_name(layout) << " weight " << has_w << " bias " << has_b;
      }
    }
  }
}

TEST(FastNorm, LayerNormOfOneDimensionalInput) {
  Host x = random_host({48}, float32, 7);
  EXPECT_TRUE(close(
      to_host(fast::layer_norm(make_array(x, float32), std::nullopt, std::nullopt, 1e-6f)),
      round_to(ref_layer_norm(x, std::nullopt, std::nullopt, 1e-6), float32), norm_tol(float32)));
}

TEST(FastNorm, GroupNormMatchesFloat64Reference) {
  uint64_t seed = 200;
  // [B, H, W, C] as a VAE's channels-last activations, and [B, C] (no positions).
  const std::pair<Shape, int> cases[] = {{{2, 5, 6, 32}, 8}, {{3, 12}, 4}, {{1, 7, 16}, 1}};
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      for (const auto& [shape, groups] : cases) {
        Host x = random_host(shape, dt, seed++, -2, 4);
        Host w = random_host({shape.back()}, dt, seed++, 0.5, 1.5);
        Host b = random_host({shape.back()}, dt, seed++, -1, 1);
        Array y = fast::group_norm(make_array(x, dt, layout), groups, make_array(w, dt),
                                   make_array(b, dt), 1e-6f);
        Host want = round_to(ref_group_norm(x, groups, w, b, 1e-6), dt);
        EXPECT_TRUE(close(to_host(y), want, norm_tol(dt)))
            << dt.name() << " " << layout_name(layout) << " " << shape_str(shape) << " groups "
            << groups;
      }
    }
  }
}

TEST(FastNorm, GroupNormWithoutAffine) {
  Host x = random_host({2, 3, 3, 8}, float32, 9);
  Array y = fast::group_norm(make_array(x, float32), 2, std::nullopt, std::nullopt, 1e-5f);
  EXPECT_TRUE(close(to_host(y),
                    round_to(ref_group_norm(x, 2, std::nullopt, std::nullopt, 1e-5), float32),
                    norm_tol(float32)));
}

TEST(FastNorm, TwinsMatchFloat64Reference) {
  // The slow twins are oracles themselves: in float64 they equal the loops.
  Host x = random_host({2, 3, 4, 16}, float64, 300);
  Host w = random_host({16}, float64, 301, 0.5, 1.5);
  Host b = random_host({16}, float64, 302, -1, 1);
  Array xa = make_array(x, float64), wa = make_array(w, float64), ba = make_array(b, float64);
  Tol tol = norm_tol(float64);
  EXPECT_TRUE(close(to_host(fast::rms_norm_reference(xa, wa, 1e-5f)),
                    ref_rms_norm(x, w, double(1e-5f)), tol));
  EXPECT_TRUE(close(to_host(fast::layer_norm_reference(xa, wa, ba, 1e-5f)),
                    ref_layer_norm(x, w, b, double(1e-5f)), tol));
  EXPECT_TRUE(close(to_host(fast::group_norm_reference(xa, 4, wa, ba, 1e-5f)),
                    ref_group_norm(x, 4, w, b, double(1e-5f)), tol));
}

TEST(FastNorm, FusedMatchesSlowTwin) {
  uint64_t seed = 400;
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_host({2, 6, 5, 24}, dt, seed++, -2, 3);
      Host w = random_host({24}, dt, seed++, 0.5, 1.5);
      Host b = random_host({24}, dt, seed++, -1, 1);
      Array xa = make_array(x, dt, layout), wa = make_array(w, dt), ba = make_array(b, dt);
      Tol tol = norm_tol(dt);
      std::string where = std::string(dt.name()) + " " + layout_name(layout);
      EXPECT_TRUE(close(to_host(fast::rms_norm(xa, wa, 1e-6f)),
                        to_host(fast::rms_norm_reference(xa, wa, 1e-6f)), tol))
          << where;
      EXPECT_TRUE(close(to_host(fast::rms_norm(xa, std::nullopt, 1e-6f)),
                        to_host(fast::rms_norm_reference(xa, std::nullopt, 1e-6f)), tol))
          << where;
      EXPECT_TRUE(close(to_host(fast::layer_norm(xa, wa, ba, 1e-5f)),
                        to_host(fast::layer_norm_reference(xa, wa, ba, 1e-5f)), tol))
          << where;
      EXPECT_TRUE(close(to_host(fast::group_norm(xa, 6, wa, ba, 1e-5f)),
                        to_host(fast::group_norm_reference(xa, 6, wa, ba, 1e-5f)), tol))
          << where;
    }
  }
}

TEST(FastNorm, TwinsRefuseWhatTheFusedOpsRefuse) {
  EXPECT_TRUE(throws_error(
      [] {
        fast::rms_norm_reference(ones({2, 8}), ones({7}), 1e-5f);
      },
      "rms_norm", {"weight"}));
  EXPECT_TRUE(throws_error(
      [] {
        fast::group_norm_reference(ones({2, 3, 10}), 4, std::nullopt, std::nullopt, 1e-5f);
      },
      "group_norm", {"4", "10"}));
}

TEST(FastNorm, BadInputNamesTheOp) {
  Array x = ones({2, 8});
  EXPECT_TRUE(throws_error([&] { fast::rms_norm(x, ones({7}), 1e-5f); }, "rms_norm",
                           {"weight", "(8,)", "(7,)"}));
  EXPECT_TRUE(throws_error(
      [&] {
        fast::rms_norm(ones({2, 8}, int32), std::nullopt, 1e-5f);
      },
      "rms_norm", {"int32"}));
  EXPECT_TRUE(throws_error([&] { fast::rms_norm(x, ones({8}, int32), 1e-5f); }, "rms_norm",
                           {"weight", "int32"}));
  EXPECT_TRUE(throws_error([&] { fast::rms_norm(ones({}), std::nullopt, 1e-5f); }, "rms_norm"));
  EXPECT_TRUE(throws_error(
      [&] {
        fast::layer_norm(x, std::nullopt, ones({2, 8}), 1e-5f);
      },
      "layer_norm", {"bias"}));
  EXPECT_TRUE(throws_error(
      [&] {
        fast::group_norm(ones({2, 3, 10}), 4, std::nullopt, std::nullopt, 1e-5f);
      },
      "group_norm", {"4", "10"}));
  EXPECT_TRUE(throws_error(
      [&] {
        fast::group_norm(ones({2, 3, 8}), 0, std::nullopt, std::nullopt, 1e-5f);
      },
      "group_norm"));
  EXPECT_TRUE(throws_error(
      [&] { fast::group_norm(ones({8}), 2, std::nullopt, std::nullopt, 1e-5f); }, "group_norm"));
  EXPECT_TRUE(throws_error(
      [&] {
        fast::group_norm(ones({2, 3, 8}), 2, ones({8}), ones({4}), 1e-5f);
      },
      "group_norm", {"bias"}));
}

}  // namespace
}  // namespace lathe::testing
