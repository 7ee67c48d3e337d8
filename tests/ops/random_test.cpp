// lathe::random: the threefry generator against published known answers,
// reproducibility and key independence, and bounded statistical checks of each
// distribution (fixed keys; the bounds fail with vanishing probability).
#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "lathe/primitives/threefry.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

using random_detail::threefry2x32;

double normal_cdf_ref(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Known-answer vectors for threefry2x32 with 20 rounds, from the Random123
// distribution (tests/kat_vectors: "threefry2x32 20 <ctr0 ctr1> <key0 key1> <out0 out1>");
// the third one is also the vector of JAX's testThreefry2x32.
TEST(Random, Threefry2x32KnownAnswers) {
  struct Kat {
    uint32_t ctr[2], key[2], out[2];
  };
  const Kat kats[] = {
      {{0x00000000u, 0x00000000u}, {0x00000000u, 0x00000000u}, {0x6b200159u, 0x99ba4efeu}},
      {{0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}, {0x1cb996fcu, 0xbb002be7u}},
      {{0x243f6a88u, 0x85a308d3u}, {0x13198a2eu, 0x03707344u}, {0xc4923a9cu, 0x483df7a0u}},
  };
  for (const Kat& k : kats) {
    auto y = threefry2x32({k.key[0], k.key[1]}, {k.ctr[0], k.ctr[1]});
    EXPECT_EQ(y[0], k.out[0]);
    EXPECT_EQ(y[1], k.out[1]);
  }
}

std::vector<uint32_t> u32(Array a) { return a.to_vector<uint32_t>(); }

TEST(Random, KeyAndSplitFollowTheCounterLayout) {
  EXPECT_EQ(u32(random::key(0x0123456789abcdefULL)),
            (std::vector<uint32_t>{0x01234567u, 0x89abcdefu}));
  // Row i of split(key) is the block of counter i; with key(0) that is the
  // Random123 all-zero vector for row 0. These rows are also what
  // jax.random.split(jax.random.key(0), 8) gives with jax_threefry_partitionable
  // (the default since JAX 0.5), as printed in JAX users' examples.
  Array keys = random::split(random::key(0), 8);
  EXPECT_EQ(keys.shape(), (Shape{8, 2}));
  EXPECT_EQ(u32(keys), (std::vector<uint32_t>{1797259609u, 2579123966u, 928981903u, 3453687069u,
                                              4146024105u, 2718843009u, 2467461003u, 3840466878u,
                                              2285895361u, 433833334u, 1524306142u, 1887795613u,
                                              3792494674u, 2909014575u, 2716826189u, 292468403u}));
  EXPECT_EQ(0x6b200159u, 1797259609u);
  EXPECT_EQ(u32(random::key_at(keys, 2)), (std::vector<uint32_t>{4146024105u, 2718843009u}));
  EXPECT_EQ(u32(random::key_at(keys, -1)), (std::vector<uint32_t>{2716826189u, 292468403u}));
  // bits: y0 ^ y1 of each element's block.
  auto b = u32(random::bits({3}, 4, random::key(0)));
  EXPECT_EQ(b[0], 1797259609u ^ 2579123966u);
  EXPECT_EQ(b[2], 4146024105u ^ 2718843009u);
  auto b8 = random::bits({3}, 1, random::key(0)).to_vector<uint8_t>();
  EXPECT_EQ(b8[1], static_cast<uint8_t>(928981903u ^ 3453687069u));
}

// The documented per-element mapping (lathe/primitives/random.h), recomputed
// here from the generator: a GPU backend must reproduce exactly these values.
TEST(Random, ValuesFollowTheDocumentedMapping) {
  const random_detail::Word2 kw = {0u, 99u};
  Array k = random::key(99);
  const size_t n = 5000;
  auto uf = random::uniform({n}, float32, k, -2.0, 6.0).to_vector<float>();
  auto ud = random::uniform({n}, float64, k).to_vector<double>();
  auto nd = random::normal({n}, float64, k).to_vector<double>();
  auto gd = random::gumbel({n}, float64, k).to_vector<double>();
  for (size_t i = 0; i < n; ++i) {
    auto y = random_detail::block(kw, i);
    uint64_t w = (uint64_t(y[0]) << 32) | y[1];
    double u24 = double((y[0] ^ y[1]) >> 8) / 16777216.0;
    ASSERT_EQ(uf[i], float(-2.0 + 8.0 * u24)) << i;
    ASSERT_EQ(ud[i], double(w >> 11) / 9007199254740992.0) << i;
    // normal and gumbel invert their CDFs at the open uniform (w >> 11 + 0.5) / 2^53.
    double u = (double(w >> 11) + 0.5) / 9007199254740992.0;
    double tail = std::min(u, 1 - u);
    ASSERT_NEAR(normal_cdf_ref(nd[i]), u, 1e-12 * tail) << i;
    ASSERT_NEAR(std::exp(-std::exp(-gd[i])), u, 1e-12) << i;
  }
}

TEST(Random, SameKeySameNumbersDifferentKeysDifferent) {
  Array k = random::key(42);
  for (Dtype dt : float_dtypes) {
    auto a = to_host(random::uniform({1000}, dt, k));
    auto b = to_host(random::uniform({1000}, dt, k));
    EXPECT_EQ(a.data, b.data) << dt.name();
    auto n1 = to_host(random::normal({1000}, dt, k));
    auto n2 = to_host(random::normal({1000}, dt, random::key(43)));
    size_t same = 0;
    for (size_t i = 0; i < 1000; ++i) same += n1[i] == n2[i];
    EXPECT_LT(same, dt.size() == 2 ? 40u : 3u) << dt.name();
  }
  // The value at an index does not depend on the shape or size of the draw.
  auto big = to_host(random::normal({4, 25}, float32, k));
  auto small = to_host(random::normal({30}, float32, k));
  for (size_t i = 0; i < 30; ++i) EXPECT_EQ(big[i], small[i]);
}

TEST(Random, GlobalKeyReproducesAndAdvances) {
  random::seed(7);
  auto a = to_host(random::uniform({64}));
  auto b = to_host(random::uniform({64}));
  EXPECT_NE(a.data, b.data);
  random::seed(7);
  EXPECT_EQ(to_host(random::uniform({64})).data, a.data);
  EXPECT_EQ(to_host(random::uniform({64})).data, b.data);
  // The n-th keyless draw uses row n of split(key(seed)).
  random::seed(7);
  Array k = random::next_key();
  EXPECT_EQ(u32(k), u32(random::key_at(random::split(random::key(7), 3), 0)));
}

TEST(Random, GlobalKeyIsThreadSafe) {
  // Subkeys taken concurrently are exactly the ones a single thread takes.
  const int per_thread = 200, threads = 4;
  random::seed(11);
  std::set<std::pair<uint32_t, uint32_t>> serial;
  for (int i = 0; i < per_thread * threads; ++i) {
    auto k = u32(random::next_key());
    serial.insert({k[0], k[1]});
  }
  random::seed(11);
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> got(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto k = u32(random::next_key());
        got[t].push_back({k[0], k[1]});
      }
    });
  }
  for (auto& th : pool) th.join();
  std::set<std::pair<uint32_t, uint32_t>> parallel;
  for (auto& v : got) parallel.insert(v.begin(), v.end());
  EXPECT_EQ(parallel.size(), size_t(per_thread * threads));
  EXPECT_EQ(parallel, serial);
}

// Kolmogorov-Smirnov statistic of samples against a continuous CDF.
double ks_statistic(std::vector<double> x, double (*cdf)(double)) {
  std::sort(x.begin(), x.end());
  double d = 0, n = static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double f = cdf(x[i]);
    d = std::max({d, (i + 1) / n - f, f - i / n});
  }
  return d;
}
// The KS bound at significance alpha (asymptotic): P(D > bound) <= alpha.
double ks_bound(size_t n, double alpha) { return std::sqrt(-std::log(alpha / 2) / (2.0 * n)); }

double uniform_cdf(double x) { return std::clamp(x, 0.0, 1.0); }
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double gumbel_cdf(double x) { return std::exp(-std::exp(-x)); }

void moments(const std::vector<double>& x, double& mean, double& var) {
  mean = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  var /= (x.size() - 1);
}

constexpr size_t kSamples = 100000;

TEST(Random, UniformIsUniformAndInRange) {
  for (Dtype dt : float_dtypes) {
    auto x = to_host(random::uniform({kSamples}, dt, random::key(1))).data;
    EXPECT_GE(*std::min_element(x.begin(), x.end()), 0.0) << dt.name();
    EXPECT_LT(*std::max_element(x.begin(), x.end()), 1.0) << dt.name();
    double mean, var;
    moments(x, mean, var);
    // sd of the mean: sqrt(1/12 / n) ~ 9e-4; 16-bit grids shift the mean by half a step.
    double grid = dt == bfloat16 ? 1.0 / 256 : (dt == float16 ? 1.0 / 2048 : 0);
    EXPECT_NEAR(mean, 0.5 - grid / 2, 6e-3) << dt.name();
    EXPECT_NEAR(var, 1.0 / 12, 3e-3) << dt.name();
    // KS needs a continuous distribution: the 16-bit grids add at most one step.
    EXPECT_LT(ks_statistic(x, uniform_cdf), ks_bound(x.size(), 1e-9) + grid) << dt.name();
  }
  // low/high are honoured and high is never reached, even where rounding would reach it.
  auto y = to_host(random::uniform({kSamples}, bfloat16, random::key(2), -3.0, 5.0)).data;
  EXPECT_GE(*std::min_element(y.begin(), y.end()), -3.0);
  EXPECT_LT(*std::max_element(y.begin(), y.end()), 5.0);
  auto z = to_host(random::uniform({kSamples}, float32, random::key(3), 1.0, 1.0 + 1e-7)).data;
  EXPECT_LT(*std::max_element(z.begin(), z.end()), 1.0 + 1e-7);
  EXPECT_GE(*std::min_element(z.begin(), z.end()), 1.0);
}

TEST(Random, NormalMatchesTheNormalDistribution) {
  for (Dtype dt : {float32, float64}) {
    auto x = to_host(random::normal({kSamples}, dt, random::key(4))).data;
    double mean, var;
    moments(x, mean, var);
    EXPECT_NEAR(mean, 0.0, 0.02) << dt.name();  // 6 sd of the mean
    EXPECT_NEAR(var, 1.0, 0.03) << dt.name();   // ~6.7 sd of the variance
    EXPECT_LT(ks_statistic(x, normal_cdf), ks_bound(x.size(), 1e-9)) << dt.name();
  }
  for (Dtype dt : {float16, bfloat16}) {
    auto x = to_host(random::normal({kSamples}, dt, random::key(5), 3.0, 2.0)).data;
    double mean, var;
    moments(x, mean, var);
    EXPECT_NEAR(mean, 3.0, 0.04) << dt.name();
    EXPECT_NEAR(var, 4.0, 0.15) << dt.name();
  }
  // loc/scale in float64 are the standard draw transformed.
  auto s = to_host(random::normal({1000}, float64, random::key(6))).data;
  auto t = to_host(random::normal({1000}, float64, random::key(6), -1.5, 0.25)).data;
  for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(t[i], -1.5 + 0.25 * s[i], 1e-12);
}

TEST(Random, NormalQuantileIsAccurateInTheTails) {
  // Over 10^6 draws the extremes reach past 4.5 sd; the CDF of the sorted
  // sample must still track the normal CDF at the far ends.
  auto x = to_host(random::normal({1000000}, float64, random::key(8))).data;
  std::sort(x.begin(), x.end());
  EXPECT_LT(x.front(), -4.0);
  EXPECT_GT(x.back(), 4.0);
  EXPECT_LT(ks_statistic(x, normal_cdf), ks_bound(x.size(), 1e-9));
  double lo_tail = std::lower_bound(x.begin(), x.end(), -3.0) - x.begin();
  EXPECT_NEAR(lo_tail / x.size(), normal_cdf(-3.0), 6 * std::sqrt(1.35e-3 / 1e6));
}

TEST(Random, GumbelMatchesItsCdf) {
  auto x = to_host(random::gumbel({kSamples}, float32, random::key(9))).data;
  EXPECT_LT(ks_statistic(x, gumbel_cdf), ks_bound(x.size(), 1e-9));
  double mean, var;
  moments(x, mean, var);
  EXPECT_NEAR(mean, 0.5772156649, 0.03);
  EXPECT_NEAR(var, M_PI * M_PI / 6, 0.06);
}

TEST(Random, RandintCoversTheRangeUniformly) {
  for (Dtype dt : {int32, int64, uint8, int8, uint32}) {
    int64_t lo = dt.kind() == DtypeKind::unsigned_int ? 3 : -4, hi = lo + 10;
    Array r = random::randint(lo, hi, {kSamples}, dt, random::key(10));
    EXPECT_EQ(r.dtype(), dt);
    auto x = to_host(r).data;
    std::vector<double> count(10, 0);
    for (double v : x) {
      ASSERT_GE(v, lo);
      ASSERT_LT(v, hi);
      ASSERT_EQ(v, std::floor(v));
      count[static_cast<int>(v - lo)] += 1;
    }
    double chi2 = 0, e = kSamples / 10.0;
    for (double c : count) chi2 += (c - e) * (c - e) / e;
    EXPECT_LT(chi2, 55.0) << dt.name();  // chi-square, 9 dof: P(> 55) ~ 1e-8
  }
  // A range spanning most of int64 still lands inside it.
  auto w = random::randint(INT64_MIN + 1, INT64_MAX, {1000}, int64, random::key(11))
               .to_vector<int64_t>();
  EXPECT_NE(*std::min_element(w.begin(), w.end()), *std::max_element(w.begin(), w.end()));
}

TEST(Random, BernoulliRate) {
  auto x = to_host(random::bernoulli(Array(0.3), {kSamples}, random::key(12))).data;
  double rate = 0;
  for (double v : x) rate += v;
  rate /= x.size();
  EXPECT_NEAR(rate, 0.3, 6 * std::sqrt(0.21 / kSamples));
  // Per-element probabilities broadcast along the shape.
  Array p = array<float>({0.0f, 1.0f, 0.9f}, {3});
  Array b = random::bernoulli(p, {kSamples / 10, 3}, random::key(13));
  EXPECT_EQ(b.dtype(), bool_);
  auto y = to_host(b).data;
  double c0 = 0, c1 = 0, c2 = 0;
  for (size_t i = 0; i < y.size(); i += 3) c0 += y[i], c1 += y[i + 1], c2 += y[i + 2];
  EXPECT_EQ(c0, 0);
  EXPECT_EQ(c1, kSamples / 10);
  EXPECT_NEAR(c2 / (kSamples / 10), 0.9, 6 * std::sqrt(0.09 / (kSamples / 10)));
}

TEST(Random, CategoricalFrequenciesMatchSoftmax) {
  std::vector<float> logits = {0.5f, -1.0f, 2.0f, 0.0f, -INFINITY, 1.0f};
  double z = 0;
  std::vector<double> prob;
  for (float l : logits) z += std::exp(double(l));
  for (float l : logits) prob.push_back(std::exp(double(l)) / z);
  // Many samples of one row; then the same distribution on a strided axis 0.
  Array one = random::categorical(array(logits, {1, 6}), -1, random::key(14), int(kSamples));
  EXPECT_EQ(one.shape(), (Shape{1, kSamples}));
  EXPECT_EQ(one.dtype(), int32);
  Host rows{{kSamples, 6}, {}};
  for (size_t r = 0; r < kSamples; ++r)
    rows.data.insert(rows.data.end(), logits.begin(), logits.end());
  Array t = transpose(make_array(rows, float32, Layout::contiguous));  // [6, n], axis 0 strided
  Array many = random::categorical(t, 0, random::key(15));
  EXPECT_EQ(many.shape(), (Shape{kSamples}));
  for (Array s : {one, many}) {
    auto v = s.to_vector<int32_t>();
    std::vector<double> count(6, 0);
    for (int32_t c : v) {
      ASSERT_GE(c, 0);
      ASSERT_LT(c, 6);
      count[c] += 1;
    }
    EXPECT_EQ(count[4], 0);  // -inf logit: never drawn
    double chi2 = 0;
    for (int c = 0; c < 6; ++c) {
      if (c == 4) continue;
      double e = prob[c] * v.size();
      chi2 += (count[c] - e) * (count[c] - e) / e;
    }
    EXPECT_LT(chi2, 45.0);  // chi-square, 4 dof: P(> 45) ~ 4e-9
  }
}

TEST(Random, SplitKeysGiveIndependentStreams) {
  Array keys = random::split(random::key(16), 3);
  auto k = u32(keys);
  std::set<uint32_t> words(k.begin(), k.end());
  EXPECT_EQ(words.size(), 6u);
  auto a = to_host(random::uniform({kSamples}, float64, random::key_at(keys, 0))).data;
  auto b = to_host(random::uniform({kSamples}, float64, random::key_at(keys, 1))).data;
  auto c = to_host(random::uniform({kSamples}, float64, random::key(16))).data;
  auto corr = [](const std::vector<double>& x, const std::vector<double>& y) {
    double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0, n = x.size();
    for (size_t i = 0; i < x.size(); ++i) {
      sx += x[i], sy += y[i], sxy += x[i] * y[i], sxx += x[i] * x[i], syy += y[i] * y[i];
    }
    return (sxy - sx * sy / n) / std::sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
  };
  const double bound = 6.0 / std::sqrt(double(kSamples));
  EXPECT_LT(std::abs(corr(a, b)), bound);
  EXPECT_LT(std::abs(corr(a, c)), bound);
  EXPECT_LT(std::abs(corr(b, c)), bound);
  // Splitting a split key does not give back its parent's rows.
  auto kk = u32(random::split(random::key_at(keys, 0), 2));
  for (uint32_t w : kk) EXPECT_EQ(words.count(w), 0u);
}

TEST(Random, KeysAreLazyArraysUsableAfterEval) {
  Array keys = random::split(random::key(17), 2);
  keep(keys);
  eval();
  Array x = random::uniform({4}, float32, random::key_at(keys, 1));
  EXPECT_EQ(to_host(x).data, to_host(random::uniform({4}, float32, random::key_at(keys, 1))).data);
}

TEST(Random, BadInputThrowsNamingTheOp) {
  auto expect_error = [](auto f, const char* op) {
    try {
      f();
      ADD_FAILURE() << "no error for " << op;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("[") + op + "]"), std::string::npos)
          << e.what();
    }
  };
  Array k = random::key(0);
  expect_error([&] { random::uniform({2}, int32, k); }, "uniform");
  expect_error([&] { random::uniform({2}, float32, k, 1.0, 1.0); }, "uniform");
  expect_error([&] { random::normal({-1}, float32, k); }, "normal");
  expect_error([&] { random::normal({2}, float32, array<float>({1.f, 2.f})); }, "normal");
  expect_error([&] { random::normal({2}, float32, array<uint32_t>({1u, 2u, 3u})); }, "normal");
  expect_error([&] { random::bits({2}, 2, k); }, "bits");
  expect_error([&] { random::split(k, 0); }, "split");
  expect_error([&] { random::randint(5, 5, {2}, int32, k); }, "randint");
  expect_error([&] { random::randint(0, 300, {2}, uint8, k); }, "randint");
  expect_error([&] { random::randint(0, 3, {2}, float32, k); }, "randint");
  expect_error([&] { random::bernoulli(ones({3}), {2}, k); }, "bernoulli");
  expect_error([&] { random::categorical(ones({3}, int32), -1, k); }, "categorical");
  expect_error([&] { random::categorical(ones({3}), 1, k); }, "categorical");
  expect_error([&] { random::categorical(ones({3, 0}), 1, k); }, "categorical");
  expect_error([&] { random::key_at(random::split(k, 2), 2); }, "key_at");
}

}  // namespace
}  // namespace lathe::testing
