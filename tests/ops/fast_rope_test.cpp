// fast::rope against a float64 loop: both rotation conventions, partial
// rotary dims, offsets as ints and as data, explicit frequencies, layouts.
#include <cmath>
#include <optional>

#include "ops/fast_support.h"

namespace lathe::testing {
namespace {

std::vector<double> base_inv_freq(double base, int dims) {
  std::vector<double> f(dims / 2);
  for (int i = 0; i < dims / 2; ++i) f[i] = std::pow(base, -2.0 * i / dims);
  return f;
}

// x [..., T, D]; offsets has one entry, or one per entry of the first axis.
Host ref_rope(const Host& x, int dims, bool traditional, const std::vector<double>& inv_freq,
              double scale, const std::vector<int64_t>& offsets) {
  Host y = x;
  const int nd = static_cast<int>(x.shape.size());
  const size_t d = x.shape[nd - 1], t_len = x.shape[nd - 2], half = dims / 2;
  const size_t mats = x.size() / (d * t_len), per_batch = mats / x.shape[0];
  for (size_t m = 0; m < mats; ++m) {
    int64_t offset = offsets.size() == 1 ? offsets[0] : offsets[m / per_batch];
    for (size_t t = 0; t < t_len; ++t) {
      const double* a = &x.data[(m * t_len + t) * d];
      double* o = &y.data[(m * t_len + t) * d];
      for (size_t i = 0; i < half; ++i) {
        double angle = double(offset + int64_t(t)) * scale * inv_freq[i];
        double c = std::cos(angle), s = std::sin(angle);
        size_t i1 = traditional ? 2 * i : i, i2 = traditional ? 2 * i + 1 : i + half;
        o[i1] = a[i1] * c - a[i2] * s;
        o[i2] = a[i2] * c + a[i1] * s;
      }
    }
  }
  return y;
}

Tol rope_tol(Dtype dt) { return scaled(default_tol(dt), 4); }

TEST(FastRope, MatchesFloat64ReferenceAcrossDtypesLayoutsAndModes) {
  uint64_t seed = 1;
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      for (bool traditional : {false, true}) {
        for (int dims : {16, 8, 6}) {
          for (int offset : {0, 13}) {
            float scale = offset ? 0.5f : 1.0f;
            Host x = random_host({2, 3, 5, 16}, dt, seed++);
            Array y =
                fast::rope(make_array(x, dt, layout), dims, traditional, 10000.0f, scale, offset);
            EXPECT_EQ(y.dtype(), dt);
            Host want =
                ref_rope(x, dims, traditional, base_inv_freq(10000.0, dims), scale, {offset});
            EXPECT_TRUE(close(to_host(y), round_to(want, dt), rope_tol(dt)))
                << dt.name() << " " << layout_name(layout) << " traditional " << traditional
                << " dims " << dims << " offset " << offset;
          }
        }
      }
    }
  }
}

TEST(FastRope, QueriesFromTransposedProjection) {
  // Models reshape a projection to [B, T, H, D] and transpose to [B, H, T, D].
  Host x = random_host({2, 7, 4, 32}, float32, 21);
  Array q = swapaxes(make_array(x, float32), 1, 2);
  Array y = fast::rope(q, 32, false, 500000.0f, 1.0f, 3);
  Host want = ref_rope(permute(x, {0, 2, 1, 3}), 32, false, base_inv_freq(500000.0, 32), 1.0, {3});
  EXPECT_TRUE(close(to_host(y), round_to(want, float32), rope_tol(float32)));
}

TEST(FastRope, ExplicitFrequenciesDivideThePosition) {
  // As MLX: with freqs, the angle of pair i is position * scale / freqs[i].
  Host x = random_host({1, 2, 6, 12}, float32, 31);
  Host f = random_host({6}, float32, 32, 1.0, 50.0);
  std::vector<double> inv(6);
  for (int i = 0; i < 6; ++i) inv[i] = 1.0 / f[i];
  for (bool traditional : {false, true}) {
    Array y = fast::rope(make_array(x, float32), 12, traditional, std::nullopt, 2.0f, 5,
                         make_array(f, float32));
    Host want = ref_rope(x, 12, traditional, inv, 2.0, {5});
    EXPECT_TRUE(close(to_host(y), round_to(want, float32), rope_tol(float32))) << traditional;
  }
}

TEST(FastRope, OffsetAsData) {
  Host x = random_host({3, 2, 4, 8}, bfloat16, 41);
  Array xa = make_array(x, bfloat16);
  auto inv = base_inv_freq(10000.0, 8);
  // A scalar int32 offset equals the same offset given as an int.
  Array by_data = fast::rope(xa, 8, false, 10000.0f, 1.0f, array<int32_t>({9}, {}));
  EXPECT_TRUE(close(to_host(by_data), round_to(ref_rope(x, 8, false, inv, 1.0, {9}), bfloat16),
                    rope_tol(bfloat16)));
  EXPECT_TRUE(
      close(to_host(by_data), to_host(fast::rope(xa, 8, false, 10000.0f, 1.0f, 9)), {0, 0}));
  // One offset per batch entry (sequences of different lengths).
  Array per_batch = fast::rope(xa, 8, true, 10000.0f, 1.0f, array<int32_t>({0, 5, 130}));
  EXPECT_TRUE(close(to_host(per_batch),
                    round_to(ref_rope(x, 8, true, inv, 1.0, {0, 5, 130}), bfloat16),
                    rope_tol(bfloat16)));
}

TEST(FastRope, LongPositionsKeepPrecision) {
  // Positions around 10^5 (long contexts): the angles must not lose float32 precision.
  Host x = random_host({1, 1, 3, 64}, float32, 51);
  Array y = fast::rope(make_array(x, float32), 64, false, 10000.0f, 1.0f, 100000);
  Host want = ref_rope(x, 64, false, base_inv_freq(10000.0, 64), 1.0, {100000});
  EXPECT_TRUE(close(to_host(y), round_to(want, float32), rope_tol(float32)));
}

TEST(FastRope, TwoDimensionalInput) {
  Host x = random_host({5, 4}, float16, 61);
  Array y = fast::rope(make_array(x, float16), 4, false, 10.0f, 1.0f, 1);
  EXPECT_TRUE(close(to_host(y),
                    round_to(ref_rope(x, 4, false, base_inv_freq(10.0, 4), 1.0, {1}), float16),
                    rope_tol(float16)));
}

TEST(FastRope, TwinMatchesFloat64Reference) {
  Host x = random_host({2, 2, 5, 12}, float64, 70);
  for (bool traditional : {false, true}) {
    Array y = fast::rope_reference(make_array(x, float64), 8, traditional, 10000.0f, 0.5f, 3);
    Host want = ref_rope(x, 8, traditional, base_inv_freq(10000.0, 8), 0.5, {3});
    EXPECT_TRUE(close(to_host(y), want, rope_tol(float64))) << traditional;
  }
}

TEST(FastRope, FusedMatchesSlowTwin) {
  uint64_t seed = 80;
  Host f = random_host({4}, float32, 79, 1.0, 20.0);
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      for (bool traditional : {false, true}) {
        for (int dims : {16, 8}) {
          Host x = random_host({3, 2, 6, 16}, dt, seed++);
          Array xa = make_array(x, dt, layout);
          std::string where = std::string(dt.name()) + " " + layout_name(layout) + " traditional " +
                              std::to_string(traditional) + " dims " + std::to_string(dims);
          Tol tol = scaled(rope_tol(dt), 2);
          EXPECT_TRUE(
              close(to_host(fast::rope(xa, dims, traditional, 10000.0f, 1.0f, 11)),
                    to_host(fast::rope_reference(xa, dims, traditional, 10000.0f, 1.0f, 11)), tol))
              << where;
          Array offsets = array<int32_t>({0, 4, 9});
          EXPECT_TRUE(close(
              to_host(fast::rope(xa, dims, traditional, 500.0f, 0.25f, offsets)),
              to_host(fast::rope_reference(xa, dims, traditional, 500.0f, 0.25f, offsets)), tol))
              << where << " per-batch offsets";
          if (dims == 8) {
            Array fa = make_array(f, float32);
            EXPECT_TRUE(close(
                to_host(fast::rope(xa, 8, traditional, std::nullopt, 1.0f, 2, fa)),
                to_host(fast::rope_reference(xa, 8, traditional, std::nullopt, 1.0f, 2, fa)), tol))
                << where << " freqs";
          }
        }
      }
    }
  }
}

TEST(FastRope, BadInputNamesTheOp) {
  Array x = ones({1, 2, 3, 8});
  EXPECT_TRUE(throws_error([&] { fast::rope(x, 7, false, 10000.0f, 1.0f, 0); }, "rope", {"7"}));
  EXPECT_TRUE(
      throws_error([&] { fast::rope(x, 10, false, 10000.0f, 1.0f, 0); }, "rope", {"10", "8"}));
  EXPECT_TRUE(throws_error([&] { fast::rope(x, 0, false, 10000.0f, 1.0f, 0); }, "rope"));
  EXPECT_TRUE(throws_error([&] { fast::rope(x, 8, false, std::nullopt, 1.0f, 0); }, "rope",
                           {"base", "freqs"}));
  EXPECT_TRUE(throws_error([&] { fast::rope(x, 8, false, 10000.0f, 1.0f, 0, ones({4})); }, "rope",
                           {"base", "freqs"}));
  EXPECT_TRUE(throws_error([&] { fast::rope(x, 8, false, std::nullopt, 1.0f, 0, ones({8})); },
                           "rope", {"freqs", "(4,)"}));
  EXPECT_TRUE(throws_error([&] { fast::rope(ones({8}), 8, false, 10000.0f, 1.0f, 0); }, "rope"));
  EXPECT_TRUE(throws_error(
      [&] {
        fast::rope(ones({2, 8}, int32), 8, false, 1e4f, 1.0f, 0);
      },
      "rope", {"int32"}));
  EXPECT_TRUE(throws_error([&] { fast::rope(x, 8, false, 10000.0f, 1.0f, ones({1})); }, "rope",
                           {"offset", "float32"}));
  EXPECT_TRUE(throws_error(
      [&] {
        fast::rope(x, 8, false, 10000.0f, 1.0f, array<int32_t>({1, 2, 3}));
      },
      "rope", {"offset", "(3,)"}));
  EXPECT_TRUE(
      throws_error([&] { fast::rope_reference(x, 7, false, 10000.0f, 1.0f, 0); }, "rope", {"7"}));
}

}  // namespace
}  // namespace lathe::testing
