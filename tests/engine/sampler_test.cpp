// The sampler against float64 reference implementations of transformers' processors and
// warpers written here, and its draws against known distributions (chi-square).
#include "lathe/engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lathe/lathe.h"

namespace lathe {
namespace {

using Row = std::vector<double>;

class Sampling : public ::testing::Test {
 protected:
  void SetUp() override { eval(); }
};

Row random_row(int v, uint64_t seed, double scale = 3.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, scale);
  Row r(static_cast<size_t>(v));
  for (auto& x : r) x = static_cast<float>(d(rng));  // exactly representable in float32
  return r;
}

Array to_array(const std::vector<Row>& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return array(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
}

std::vector<Row> to_rows(Array a) {
  auto v = a.to_vector<float>();
  int64_t n = a.shape(1);
  std::vector<Row> out;
  for (int64_t r = 0; r < a.shape(0); ++r)
    out.emplace_back(v.begin() + r * n, v.begin() + (r + 1) * n);
  return out;
}

std::set<int> finite_set(const Row& r) {
  std::set<int> s;
  for (size_t i = 0; i < r.size(); ++i)
    if (std::isfinite(r[i])) s.insert(static_cast<int>(i));
  return s;
}

Row softmax64(const Row& l) {
  double m = -INFINITY;
  for (double x : l) m = std::max(m, x);
  Row p(l.size());
  double z = 0;
  for (size_t i = 0; i < l.size(); ++i) z += (p[i] = std::isfinite(l[i]) ? std::exp(l[i] - m) : 0);
  for (auto& x : p) x /= z;
  return p;
}

// transformers' TopKLogitsWarper: remove logits below the k-th largest.
Row ref_top_k(Row l, int k) {
  Row s = l;
  std::sort(s.begin(), s.end(), std::greater<>());
  double kth = s[static_cast<size_t>(k - 1)];
  for (auto& x : l)
    if (x < kth) x = -INFINITY;
  return l;
}

// transformers' TopPLogitsWarper. Also returns how close a cumulative sum came to 1 - p, so
// the tests can insist on cases that float32 rounding cannot flip.
Row ref_top_p(Row l, double p, double* margin = nullptr) {
  std::vector<size_t> order(l.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l[a] < l[b]; });
  Row sorted;
  for (size_t i : order) sorted.push_back(l[i]);
  Row probs = softmax64(sorted);
  double cum = 0, closest = INFINITY;
  Row out = l;
  for (size_t j = 0; j + 1 < order.size(); ++j) {
    cum += probs[j];
    closest = std::min(closest, std::abs(cum - (1 - p)));
    if (cum <= 1 - p) out[order[j]] = -INFINITY;
  }
  if (margin) *margin = closest;
  return out;
}

// transformers' MinPLogitsWarper.
Row ref_min_p(Row l, double min_p) {
  Row probs = softmax64(l);
  double top = *std::max_element(probs.begin(), probs.end());
  for (size_t i = 0; i < l.size(); ++i)
    if (probs[i] < min_p * top) l[i] = -INFINITY;
  return l;
}

TEST_F(Sampling, BadConfigsThrowNamingTheSetting) {
  auto expect_error = [](SamplerConfig c, const std::string& what) {
    try {
      validate(c);
      FAIL() << "no error for " << what;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("[sampler]"), std::string::npos) << m;
      EXPECT_NE(m.find(what), std::string::npos) << m;
    }
    EXPECT_THROW(Sampler(c, 10), Error);
  };
  SamplerConfig c;
  c.temperature = -0.5;
  expect_error(c, "temperature");
  c = {};
  c.temperature = NAN;
  expect_error(c, "temperature");
  c = {};
  c.top_k = -1;
  expect_error(c, "top_k");
  for (double p : {0.0, -0.1, 1.5, 2.0, double(NAN)}) {
    c = {};
    c.top_p = p;
    expect_error(c, "top_p");
  }
  c = {};
  c.min_p = 1.5;
  expect_error(c, "min_p");
  c = {};
  c.repetition_penalty = 0;
  expect_error(c, "repetition_penalty");
  c = {};
  c.presence_penalty = INFINITY;
  expect_error(c, "presence_penalty");
  c = {};
  c.frequency_penalty = NAN;
  expect_error(c, "frequency_penalty");
  EXPECT_THROW(Sampler(SamplerConfig{}, 0), Error);
  EXPECT_NO_THROW(validate(SamplerConfig{}));
}

TEST_F(Sampling, BadLogitsThrow) {
  SamplerConfig c;
  c.seed = 1;
  Sampler s(c, 8);
  EXPECT_THROW(s.sample(zeros({2, 7}, float32)), Error);
  EXPECT_THROW(s.sample(zeros({2, 8}, int32)), Error);
  EXPECT_THROW(s.sample(zeros({1, 2, 8}, float32)), Error);
  c.repetition_penalty = 1.1;
  Sampler p(c, 8);
  EXPECT_THROW(p.reset(std::vector<int32_t>{3, 8}), Error);
  p.reset(std::vector<int32_t>{3});
  EXPECT_THROW(p.sample(zeros({2, 8}, float32)), Error) << "two rows after a one-row reset";
}

TEST_F(Sampling, GreedyIsArgmax) {
  SamplerConfig c;
  c.temperature = 0;
  std::vector<Row> rows;
  for (int r = 0; r < 4; ++r) rows.push_back(random_row(300, 10 + r));
  Sampler s(c, 300);
  auto got = s.sample(to_array(rows)).to_vector<int32_t>();
  ASSERT_EQ(got.size(), 4u);
  for (size_t r = 0; r < rows.size(); ++r) {
    auto want = std::max_element(rows[r].begin(), rows[r].end()) - rows[r].begin();
    EXPECT_EQ(got[r], want) << "row " << r;
  }
  // A one-dimensional row works too and gives shape [1].
  Array one = s.sample(reshape(to_array({rows[2]}), {300}));
  EXPECT_EQ(one.shape(), (Shape{1}));
  EXPECT_EQ(one.to_vector<int32_t>()[0], got[2]);
}

TEST_F(Sampling, RepetitionPresenceAndFrequencyPenaltyArithmetic) {
  const int v = 12;
  Row l = random_row(v, 3);
  l[2] = 1.5;   // positive, in the context
  l[4] = -2.0;  // negative, in the context
  l[5] = 0.0;   // zero, in the context
  std::vector<int32_t> context{2, 4, 5, 2};
  SamplerConfig c;
  c.repetition_penalty = 1.3;
  c.presence_penalty = 0.5;
  c.frequency_penalty = 0.25;
  Sampler s(c, v);
  s.reset(context);
  // Generated so far: 7 twice, 4 once.
  s.accept(array<int32_t>({7}));
  s.accept(array<int32_t>({4}));
  s.accept(array<int32_t>({7}));
  auto got = to_rows(s.process(to_array({l})))[0];

  std::vector<int> in_context(v, 0), generated(v, 0);
  for (int id : {2, 4, 5, 7, 4, 7}) in_context[id] = 1;
  for (int id : {7, 4, 7}) generated[id]++;
  for (int i = 0; i < v; ++i) {
    double x = l[i];
    if (in_context[i]) x = x < 0 ? x * 1.3 : x / 1.3;
    x -= 0.5 * (generated[i] > 0) + 0.25 * generated[i];
    EXPECT_NEAR(got[i], x, 1e-5 * std::max(1.0, std::abs(x))) << "token " << i;
  }
}

TEST_F(Sampling, TemperatureDividesAfterPenalties) {
  const int v = 9;
  Row l = random_row(v, 4);
  SamplerConfig c;
  c.temperature = 0.7;
  c.repetition_penalty = 2.0;
  Sampler s(c, v);
  s.reset(std::vector<int32_t>{1, 3});
  auto got = to_rows(s.process(to_array({l})))[0];
  for (int i = 0; i < v; ++i) {
    double x = l[i];
    if (i == 1 || i == 3) x = x < 0 ? x * 2.0 : x / 2.0;
    EXPECT_NEAR(got[i], x / 0.7, 1e-5 * std::max(1.0, std::abs(x))) << i;
  }
}

TEST_F(Sampling, TopKKeepsExactlyTheKLargest) {
  for (int k : {1, 3, 17, 63, 64, 0}) {
    SamplerConfig c;
    c.top_k = k;
    c.seed = 1;
    std::vector<Row> rows{random_row(64, 100 + k), random_row(64, 200 + k)};
    auto got = to_rows(Sampler(c, 64).process(to_array(rows)));
    for (size_t r = 0; r < rows.size(); ++r) {
      Row want = k == 0 ? rows[r] : ref_top_k(rows[r], k);
      EXPECT_EQ(finite_set(got[r]), finite_set(want)) << "k=" << k << " row " << r;
      for (int i : finite_set(want)) EXPECT_FLOAT_EQ(got[r][i], want[i]);
    }
  }
}

TEST_F(Sampling, TopPKeepsTheSmallestSetReachingP) {
  int checked = 0;
  for (double p : {0.05, 0.3, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0}) {
    for (double temperature : {1.0, 0.6}) {
      for (uint64_t seed = 0; seed < 6; ++seed) {
        Row l = random_row(50, 1000 + seed, 2.0);
        Row scaled = l;
        for (auto& x : scaled) x /= temperature;
        double margin = 0;
        Row want = ref_top_p(scaled, p, &margin);
        if (p < 1.0 && margin < 1e-4) continue;  // too close to call in float32
        SamplerConfig c;
        c.top_p = p;
        c.temperature = temperature;
        auto got = to_rows(Sampler(c, 50).process(to_array({l})))[0];
        EXPECT_EQ(finite_set(got), finite_set(want)) << "p=" << p << " T=" << temperature;
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 80);
}

TEST_F(Sampling, TopPAlwaysKeepsTheMostLikelyToken) {
  Row l = random_row(40, 7);
  SamplerConfig c;
  c.top_p = 1e-9;
  auto got = to_rows(Sampler(c, 40).process(to_array({l})))[0];
  auto best = static_cast<int>(std::max_element(l.begin(), l.end()) - l.begin());
  EXPECT_EQ(finite_set(got), std::set<int>{best});
}

TEST_F(Sampling, TopKThenTopPThenMinPInTransformersOrder) {
  int checked = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Row l = random_row(80, 5000 + seed, 1.5);
    SamplerConfig c;
    c.temperature = 0.8;
    c.top_k = 20;
    c.top_p = 0.7;
    c.min_p = 0.05;
    Row want = l;
    for (auto& x : want) x /= c.temperature;
    want = ref_top_k(want, c.top_k);
    double margin = 0;
    want = ref_top_p(want, c.top_p, &margin);
    if (margin < 1e-4) continue;
    want = ref_min_p(want, c.min_p);
    auto got = to_rows(Sampler(c, 80).process(to_array({l})))[0];
    EXPECT_EQ(finite_set(got), finite_set(want)) << "seed " << seed;
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST_F(Sampling, MinPIsRelativeToTheLargestProbability) {
  for (double min_p : {0.01, 0.1, 0.3, 0.9, 1.0}) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      Row l = random_row(60, 300 + seed, 2.0);
      SamplerConfig c;
      c.min_p = min_p;
      auto got = to_rows(Sampler(c, 60).process(to_array({l})))[0];
      EXPECT_EQ(finite_set(got), finite_set(ref_min_p(l, min_p))) << "min_p=" << min_p;
    }
  }
}

TEST_F(Sampling, SeededDrawsAreReproducible) {
  Row l(500, 0.0);  // uniform: every draw is informative
  auto run = [&](uint64_t seed) {
    SamplerConfig c;
    c.seed = seed;
    Sampler s(c, 500);
    std::vector<int32_t> ids;
    for (int i = 0; i < 30; ++i) {
      Array t = s.sample(to_array({l}));
      eval(t, s.state());
      ids.push_back(t.to_vector<int32_t>()[0]);
    }
    return ids;
  };
  auto a = run(42), b = run(42), other = run(43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other);
  // Steps differ from each other: the key advances every draw.
  EXPECT_GT(std::set<int32_t>(a.begin(), a.end()).size(), 20u);
}

// Pearson's chi-square of observed counts against probabilities (zero-probability classes
// must have zero counts). df = classes with p > 0, minus one.
double chi_square(const std::vector<int>& counts, const Row& p, int n, int* df) {
  double x2 = 0;
  *df = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "class " << i << " has probability 0";
      continue;
    }
    ++*df;
    double e = n * p[i];
    x2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  return x2;
}

// Draws n tokens from one row repeated n times, in one call (each row gets its own noise).
std::vector<int> draw_counts(const SamplerConfig& c, const Row& l, int n) {
  Sampler s(c, static_cast<int>(l.size()));
  std::vector<float> f(l.begin(), l.end());
  Array rows = broadcast_to(reshape(array(f), {1, static_cast<int64_t>(l.size())}),
                            {n, static_cast<int64_t>(l.size())});
  auto ids = s.sample(rows).to_vector<int32_t>();
  std::vector<int> counts(l.size(), 0);
  for (int32_t id : ids) counts[static_cast<size_t>(id)]++;
  return counts;
}

TEST_F(Sampling, DrawFrequenciesMatchTheDistribution) {
  // 99.9% quantiles of chi-square with 1..5 degrees of freedom.
  const double crit[] = {0, 10.828, 13.816, 16.266, 18.467, 20.515};
  Row probs{0.05, 0.1, 0.15, 0.2, 0.2, 0.3};
  Row l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  const int n = 40000;
  struct Case {
    const char* name;
    SamplerConfig c;
    Row want;
  };
  std::vector<Case> cases;
  SamplerConfig plain;
  plain.seed = 7;
  cases.push_back({"plain", plain, softmax64(l)});
  SamplerConfig hot = plain;
  hot.temperature = 2.0;
  Row lh = l;
  for (auto& x : lh) x /= 2.0;
  cases.push_back({"temperature 2", hot, softmax64(lh)});
  SamplerConfig k3 = plain;
  k3.top_k = 3;
  cases.push_back({"top_k 3", k3, softmax64(ref_top_k(l, 3))});
  SamplerConfig p6 = plain;
  p6.top_p = 0.6;  // keeps 0.3, 0.2, 0.2 (cumulative from below: 0.3 <= 0.4)
  cases.push_back({"top_p 0.6", p6, softmax64(ref_top_p(l, 0.6))});
  SamplerConfig m = plain;
  m.min_p = 0.4;  // keeps p >= 0.12
  cases.push_back({"min_p 0.4", m, softmax64(ref_min_p(l, 0.4))});
  for (const auto& cs : cases) {
    auto counts = draw_counts(cs.c, l, n);
    int df = 0;
    double x2 = chi_square(counts, cs.want, n, &df);
    ASSERT_GE(df, 1);
    EXPECT_LT(x2, crit[df]) << cs.name << " (df " << df << ")";
  }
  // And a wrong distribution is rejected by the same test (the check has power).
  auto counts = draw_counts(plain, l, n);
  int df = 0;
  EXPECT_GT(chi_square(counts, softmax64(lh), n, &df), crit[5]);
}

TEST_F(Sampling, PenaltiesSteerSampledTokensAway) {
  // Two equally likely tokens; a strong frequency penalty forbids repeating the last one.
  SamplerConfig c;
  c.seed = 3;
  c.frequency_penalty = 100.0;
  Sampler s(c, 2);
  s.reset(std::vector<int32_t>{});
  std::vector<int32_t> ids;
  Array l = array<float>({0.0f, 0.0f}, {1, 2});
  keep(l);
  for (int i = 0; i < 6; ++i) {
    Array t = s.sample(l);
    eval(t, s.state());
    ids.push_back(t.to_vector<int32_t>()[0]);
  }
  // After the first draw of each token the other one is the only finite choice, then both
  // are penalized in turn: the counts can never differ by more than one.
  int zeros = static_cast<int>(std::count(ids.begin(), ids.end(), 0));
  EXPECT_EQ(zeros, 3) << "ids alternate between the two tokens";
}

TEST_F(Sampling, StateAndDrawsStayOnTheLogitsDevice) {
  // The test device's logits (the GPU under LATHE_TEST_DEVICE=cuda); the sampler was made
  // and reset on the host.
  const Device dev = default_device();
  SamplerConfig c;
  c.seed = 9;
  c.top_p = 0.9;
  c.temperature = 0.7;
  c.repetition_penalty = 1.2;
  c.frequency_penalty = 0.1;
  std::optional<Sampler> s;
  {
    DeviceScope host(Device::cpu);
    s.emplace(c, 100);
    s->reset(std::vector<int32_t>{1, 2, 3});
  }
  Array l = to_array({random_row(100, 1)});
  keep(l);
  for (int i = 0; i < 3; ++i) {
    Array t = s->sample(l);
    EXPECT_EQ(t.device(), dev);
    for (const Array& a : s->state()) EXPECT_EQ(a.device(), dev);
    async_eval(t, s->state());
    EXPECT_GE(t.item<int32_t>(), 0);
  }
  // bfloat16 logits are read as they are.
  Array b = s->sample(astype(l, bfloat16));
  EXPECT_EQ(b.device(), dev);
  EXPECT_LT(b.item<int32_t>(), 100);
}

TEST_F(Sampling, PenaltyCountsFollowTheSampledIds) {
  const int v = 16;
  Row l = random_row(v, 21, 1.0);
  std::vector<int32_t> prompt{3, 5, 5};
  SamplerConfig c;
  c.seed = 4;
  c.repetition_penalty = 1.25;
  c.presence_penalty = 0.3;
  c.frequency_penalty = 0.2;
  Sampler s(c, v);
  s.reset(prompt);
  Array la = to_array({l});
  keep(la);
  std::vector<int32_t> ids;
  for (int i = 0; i < 25; ++i) {
    Array t = s.sample(la);
    async_eval(t, s.state());
    ids.push_back(t.item<int32_t>());
  }
  auto got = to_rows(s.process(la))[0];
  std::vector<int> in_context(v, 0), generated(v, 0);
  for (int id : prompt) in_context[id] = 1;
  for (int id : ids) in_context[id] = 1, generated[id]++;
  for (int i = 0; i < v; ++i) {
    double x = l[i];
    if (in_context[i]) x = x < 0 ? x * 1.25 : x / 1.25;
    x -= 0.3 * (generated[i] > 0) + 0.2 * generated[i];
    EXPECT_NEAR(got[i], x, 1e-5 * std::max(1.0, std::abs(x))) << "token " << i;
  }
}

TEST_F(Sampling, FusedAndSlowTwinStepsDrawAlike) {
  // Two samplers with one seed: the fused op and the ops composition see the same uniforms.
  const int v = 50;
  Row l = random_row(v, 77, 1.2);
  SamplerConfig c;
  c.seed = 31;
  c.temperature = 0.9;
  c.top_k = 30;
  c.min_p = 0.01;
  c.presence_penalty = 0.2;
  Sampler fused(c, v), twin(c, v);
  fused.reset(std::vector<int32_t>{});
  twin.reset(std::vector<int32_t>{});
  Array la = to_array({l});
  keep(la);
  int same = 0;
  for (int i = 0; i < 40; ++i) {
    Array a = fused.sample(la), b = twin.sample_reference(la);
    eval(a, b, fused.state(), twin.state());
    same += a.item<int32_t>() == b.item<int32_t>();
    // Keep the histories equal even if one draw landed on a rounding boundary.
    if (a.item<int32_t>() != b.item<int32_t>()) break;
  }
  EXPECT_EQ(same, 40);
}

}  // namespace
}  // namespace lathe
