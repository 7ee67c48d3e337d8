// fast::sample_tokens on the test device: draw frequencies against float64 references of
// transformers' processors (chi-square), penalties against a hand computation, the exact ids
// against a sort-based implementation of the documented integer rule (every size, dtype,
// layout and, on the GPU, cluster size), the slow twin, count_tokens, and bad inputs.
#include "lathe/ops/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lathe/primitives/sampling.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

using fast::SamplingInputs;
using fast::SamplingParams;
using Row = std::vector<double>;

const double kInf = INFINITY;

class Sampling : public ::testing::Test {
 protected:
  void SetUp() override { eval(); }
};

float bfloat16_round(double x) {
  const float f = static_cast<float>(x);
  uint16_t b = 0;
  float r = 0;
  convert_elements(&f, float32, &b, bfloat16, 1);
  convert_elements(&b, bfloat16, &r, float32, 1);
  return r;
}

Row normal_row(int v, uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, scale);
  Row r(static_cast<size_t>(v));
  for (auto& x : r) x = static_cast<float>(d(rng));
  return r;
}

// ---- float64 references (transformers' definitions) ----

Row softmax64(const Row& l) {
  double m = -kInf;
  for (double x : l) m = std::max(m, x);
  Row p(l.size());
  double z = 0;
  for (size_t i = 0; i < l.size(); ++i) z += (p[i] = std::isfinite(l[i]) ? std::exp(l[i] - m) : 0);
  for (auto& x : p) x /= z;
  return p;
}

Row ref_top_k(Row l, int64_t k) {
  if (k <= 0 || k >= static_cast<int64_t>(l.size())) return l;
  Row s = l;
  std::sort(s.begin(), s.end(), std::greater<>());
  const double kth = s[static_cast<size_t>(k - 1)];
  for (auto& x : l)
    if (x < kth) x = -kInf;
  return l;
}

// Ascending sort, cumulative probabilities, remove while <= 1 - p (never the last one).
// *margin: how close a cumulative sum came to 1 - p.
Row ref_top_p(Row l, double p, double* margin) {
  std::vector<size_t> order(l.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l[a] < l[b]; });
  Row sorted;
  for (size_t i : order) sorted.push_back(l[i]);
  Row probs = softmax64(sorted);
  double cum = 0, closest = kInf;
  Row out = l;
  for (size_t j = 0; j + 1 < order.size(); ++j) {
    cum += probs[j];
    if (probs[j] > 0) closest = std::min(closest, std::abs(cum - (1 - p)));
    if (cum <= 1 - p) out[order[j]] = -kInf;
  }
  *margin = std::min(*margin, closest);
  return out;
}

Row ref_min_p(Row l, double min_p, double* margin) {
  Row probs = softmax64(l);
  const double top = *std::max_element(probs.begin(), probs.end());
  for (size_t i = 0; i < l.size(); ++i) {
    if (probs[i] > 0) *margin = std::min(*margin, std::abs(probs[i] / top - min_p));
    if (probs[i] < min_p * top) l[i] = -kInf;
  }
  return l;
}

struct Counts {
  Row prompt, generated;
};

// Penalties by hand: repetition for tokens in the prompt or generated, then presence and
// frequency from the generated counts.
Row ref_penalties(Row l, const SamplingParams& p, const Counts* c) {
  if (!c) return l;
  for (size_t i = 0; i < l.size(); ++i) {
    const double g = c->generated[i];
    if (p.repetition_penalty != 1.0f && (c->prompt[i] > 0 || g > 0))
      l[i] = l[i] < 0 ? l[i] * p.repetition_penalty : l[i] / p.repetition_penalty;
    l[i] -= p.presence_penalty * (g > 0 ? 1.0 : 0.0) + p.frequency_penalty * g;
  }
  return l;
}

// The probabilities of each token under p; *margin as above for the cut-offs.
Row ref_probs(const Row& logits, const SamplingParams& p, const Counts* c, double* margin) {
  Row l = ref_penalties(logits, p, c);
  for (auto& x : l) x /= p.temperature;
  l = ref_top_k(l, p.top_k);
  if (p.top_p < 1) l = ref_top_p(l, p.top_p, margin);
  if (p.min_p > 0) l = ref_min_p(l, p.min_p, margin);
  return softmax64(l);
}

// 99.9% quantile of chi-square with df degrees of freedom (Wilson-Hilferty).
double chi2_crit(int df) {
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1 - a + 3.0902 * std::sqrt(a), 3);
}

// Pearson's chi-square, pooling classes expected below 5 draws into one; zero-probability
// classes must never be drawn.
::testing::AssertionResult frequencies_match(const std::vector<int64_t>& counts, const Row& p,
                                             int64_t n, bool expect_reject = false) {
  double x2 = 0, pooled_e = 0, pooled_o = 0;
  int df = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      if (counts[i] != 0)
        return ::testing::AssertionFailure()
               << "token " << i << " has probability 0 but was drawn " << counts[i] << " times";
      continue;
    }
    const double e = n * p[i];
    if (e < 5) {
      pooled_e += e;
      pooled_o += counts[i];
      continue;
    }
    x2 += (counts[i] - e) * (counts[i] - e) / e;
    ++df;
  }
  if (pooled_e > 0) {
    x2 += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++df;
  }
  if (df < 1) return ::testing::AssertionSuccess() << "one class";
  const double crit = chi2_crit(df);
  if ((x2 < crit) != expect_reject)
    return ::testing::AssertionSuccess() << "chi2 " << x2 << " df " << df;
  return ::testing::AssertionFailure()
         << "chi2 " << x2 << " with " << df << " df, 99.9% point " << crit;
}

Array uniforms_for(int64_t n, uint64_t seed) {
  return random::uniform({n}, float32, random::key(seed));
}

SamplingInputs inputs_for(const SamplingParams& p, int64_t rows, int64_t v, const Counts* c,
                          uint64_t seed) {
  SamplingInputs in;
  if (!p.greedy()) in.uniforms = uniforms_for(rows, seed);
  if (p.uses_generated_counts()) {
    std::vector<float> pr(c->prompt.begin(), c->prompt.end());
    std::vector<float> ge(c->generated.begin(), c->generated.end());
    in.prompt_counts = broadcast_to(reshape(array(pr), {1, v}), {rows, v});
    in.generated_counts = broadcast_to(reshape(array(ge), {1, v}), {rows, v});
  }
  return in;
}

// n draws from one row (broadcast to n rows, each with its own uniform).
std::vector<int64_t> draw_counts(const Row& l, const SamplingParams& p, const Counts* c, int64_t n,
                                 uint64_t seed, Dtype dtype = float32) {
  const int64_t v = static_cast<int64_t>(l.size());
  Array row = reshape(array(l, {v}, dtype), {1, v});
  Array ids = fast::sample_tokens(broadcast_to(row, {n, v}), p, inputs_for(p, n, v, c, seed));
  std::vector<int64_t> counts(l.size(), 0);
  for (int32_t id : ids.to_vector<int32_t>()) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, v);
    if (id >= 0 && id < v) counts[static_cast<size_t>(id)]++;
  }
  return counts;
}

TEST_F(Sampling, DrawFrequenciesMatchFloat64References) {
  const int v = 40;
  const int64_t n = 100000;
  Counts c{Row(v, 0.0), Row(v, 0.0)};
  for (int i : {1, 4, 9, 16, 25}) c.prompt[i] = 1;
  for (int i : {2, 4, 7, 7, 30}) c.generated[i] += 1;
  struct Case {
    const char* name;
    SamplingParams p;
    bool penalties = false;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, auto set, bool penalties = false) {
    SamplingParams p;
    set(p);
    cases.push_back({name, p, penalties});
  };
  add("plain", [](SamplingParams&) {});
  add("temperature 0.6", [](SamplingParams& p) { p.temperature = 0.6f; });
  add("temperature 1.7", [](SamplingParams& p) { p.temperature = 1.7f; });
  add("top_k 7", [](SamplingParams& p) { p.top_k = 7; });
  add("top_p 0.7", [](SamplingParams& p) { p.top_p = 0.7; });
  add("top_p 0.95 temperature 1.3", [](SamplingParams& p) {
    p.top_p = 0.95;
    p.temperature = 1.3f;
  });
  add("min_p 0.08", [](SamplingParams& p) { p.min_p = 0.08; });
  add("top_k 15 top_p 0.9 min_p 0.02 temperature 0.8", [](SamplingParams& p) {
    p.top_k = 15;
    p.top_p = 0.9;
    p.min_p = 0.02;
    p.temperature = 0.8f;
  });
  add(
      "penalties, temperature 0.9, top_p 0.95",
      [](SamplingParams& p) {
        p.repetition_penalty = 1.3f;
        p.presence_penalty = 0.4f;
        p.frequency_penalty = 0.3f;
        p.temperature = 0.9f;
        p.top_p = 0.95;
      },
      true);
  add(
      "presence and frequency only",
      [](SamplingParams& p) {
        p.presence_penalty = -0.5f;
        p.frequency_penalty = 0.7f;
      },
      true);
  uint64_t seed = 100;
  for (const auto& cs : cases) {
    // A row whose cut-offs are far from float32 rounding.
    Row l;
    Row want;
    for (;; ++seed) {
      l = normal_row(v, seed, 1.5);
      double margin = kInf;
      want = ref_probs(l, cs.p, cs.penalties ? &c : nullptr, &margin);
      if (margin > 1e-3) break;
    }
    auto counts = draw_counts(l, cs.p, cs.penalties ? &c : nullptr, n, seed);
    EXPECT_TRUE(frequencies_match(counts, want, n)) << cs.name;
  }
  // The check has power: plain draws are not at temperature 1.3.
  Row l = normal_row(v, 1, 1.5);
  SamplingParams plain, hot;
  hot.temperature = 1.3f;
  double margin = kInf;
  EXPECT_TRUE(frequencies_match(draw_counts(l, plain, nullptr, n, 7),
                                ref_probs(l, hot, nullptr, &margin), n, true));
}

TEST_F(Sampling, BFloat16LogitsDrawAsTheirValues) {
  const int v = 30;
  Row l = normal_row(v, 5, 2.0);
  for (auto& x : l) x = static_cast<double>(static_cast<float>(bfloat16_round(x)));
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 12;
  double margin = kInf;
  Row want = ref_probs(l, p, nullptr, &margin);
  EXPECT_TRUE(frequencies_match(draw_counts(l, p, nullptr, 60000, 3, bfloat16), want, 60000));
}

TEST_F(Sampling, LargeVocabularyTopP) {
  // 262,144 tokens: a bulk around 0 and 24 tokens far above it; top_p 0.9 keeps some of the 24.
  const int v = 262144;
  Row l = normal_row(v, 11, 1.0);
  std::mt19937_64 rng(12);
  for (int j = 0; j < 24; ++j) l[static_cast<size_t>(rng() % v)] = 9.0 + 0.25 * j;
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_p = 0.9;
  double margin = kInf;
  Row want = ref_probs(l, p, nullptr, &margin);
  ASSERT_GT(margin, 1e-4);
  const int64_t n = test_device() == Device::cuda ? 40000 : 300;
  EXPECT_TRUE(frequencies_match(draw_counts(l, p, nullptr, n, 4), want, n));
}

TEST_F(Sampling, GreedyIsTheArgmaxOfThePenalizedLogits) {
  const int v = 300;
  int checked = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Row l = normal_row(v, 900 + seed, 2.0);
    Counts c{Row(v, 0.0), Row(v, 0.0)};
    std::mt19937_64 rng(seed);
    for (int j = 0; j < 30; ++j) c.prompt[rng() % v] += 1;
    for (int j = 0; j < 30; ++j) c.generated[rng() % v] += 1;
    SamplingParams p;
    p.temperature = 0.0f;
    p.repetition_penalty = 1.5f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.75f;
    Row want = ref_penalties(l, p, &c);
    Row sorted = want;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    if (sorted[0] - sorted[1] < 1e-4) continue;  // a float32 near-tie
    const auto best = std::max_element(want.begin(), want.end()) - want.begin();
    auto ids =
        fast::sample_tokens(reshape(array(l, {v}, float32), {1, v}), p, inputs_for(p, 1, v, &c, 0))
            .to_vector<int32_t>();
    EXPECT_EQ(ids[0], best) << "seed " << seed;
    ++checked;
  }
  EXPECT_GE(checked, 35);
}

TEST_F(Sampling, GreedyPicksTheFirstMaximumOrTheFirstNaN) {
  SamplingParams p;
  p.temperature = 0.0f;
  Array l = array<float>({1, 5, 2, 5, 0, NAN, 3, NAN, 5, -INFINITY, -INFINITY, -INFINITY}, {3, 4});
  EXPECT_EQ(fast::sample_tokens(l, p, {}).to_vector<int32_t>(), (std::vector<int32_t>{1, 1, 0}));
}

// ---- the documented integer rule, by sorting ----

struct ExactCase {
  SamplingParams p;
  bool penalties;
};

// Steps 1-3 in float32, in the kernels' order of operations.
std::vector<float> processed(const std::vector<float>& logits, const SamplingParams& p,
                             const float* prompt, const float* gen) {
  std::vector<float> x = logits;
  for (size_t i = 0; i < x.size(); ++i) {
    if (p.uses_generated_counts()) {
      const float g = gen[i];
      if (p.repetition_penalty != 1.0f && (prompt[i] > 0.0f || g > 0.0f))
        x[i] = x[i] < 0.0f ? x[i] * p.repetition_penalty : x[i] / p.repetition_penalty;
      if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
        const float present = g > 0.0f ? 1.0f : 0.0f;
        x[i] = x[i] - present * p.presence_penalty;
        x[i] = x[i] - g * p.frequency_penalty;
      }
    }
    if (!p.greedy() && p.temperature != 1.0f) x[i] = x[i] / p.temperature;
  }
  return x;
}

int32_t exact_id(const std::vector<float>& x, const SamplingParams& p, float u) {
  const int64_t v = static_cast<int64_t>(x.size());
  if (p.greedy()) {
    int64_t best = 0;
    for (int64_t i = 0; i < v; ++i) {
      if (std::isnan(x[i])) return static_cast<int32_t>(i);
      if (x[i] > x[best] || std::isnan(x[best])) best = i;
    }
    return static_cast<int32_t>(best);
  }
  struct E {
    float x;
    uint32_t key;
    uint64_t q;
    int64_t i;
  };
  std::vector<E> e;
  float m = -INFINITY;
  bool any = false;
  for (int64_t i = 0; i < v; ++i) {
    if (std::isnan(x[i])) continue;
    m = any ? std::max(m, x[i]) : x[i];
    any = true;
  }
  if (!any) return 0;
  const int s = sampling::scale_bits(v);
  for (int64_t i = 0; i < v; ++i)
    if (!std::isnan(x[i]))
      e.push_back({x[i], sampling::key_of(x[i]), sampling::weight_of(x[i], m, s), i});
  std::vector<E> by_key = e;
  std::stable_sort(by_key.begin(), by_key.end(),
                   [](const E& a, const E& b) { return a.key > b.key; });
  uint32_t floor_key = 0;
  if (p.top_k > 0 && p.top_k < static_cast<int64_t>(by_key.size()))
    floor_key = by_key[static_cast<size_t>(p.top_k - 1)].key;
  if (p.top_p < 1.0) {
    uint64_t total = 0;
    for (const E& a : by_key)
      if (a.key >= floor_key) total += a.q;
    const double limit = p.top_p * double(total);
    // Walk the distinct keys downwards: the last one whose mass above is below the limit.
    uint64_t above = 0;
    uint32_t t = by_key[0].key;
    for (size_t j = 0; j < by_key.size() && by_key[j].key >= floor_key;) {
      const uint32_t key = by_key[j].key;
      if (!(double(above) < limit)) break;
      t = key;
      for (; j < by_key.size() && by_key[j].key == key; ++j) above += by_key[j].q;
    }
    floor_key = t;
  }
  if (p.min_p > 0.0)
    floor_key = std::max(floor_key, sampling::key_of(m + static_cast<float>(std::log(p.min_p))));
  uint64_t total = 0;
  for (const E& a : e)
    if (a.key >= floor_key) total += a.q;
  const uint64_t target = sampling::draw_target(u, total);
  uint64_t cum = 0;
  for (const E& a : e) {
    if (a.key < floor_key) continue;
    cum += a.q;
    if (cum > target) return static_cast<int32_t>(a.i);
  }
  ADD_FAILURE() << "no token reached the target";
  return -1;
}

std::vector<float> exact_row(int64_t v, int kind, std::mt19937_64& rng, Dtype dtype) {
  std::vector<float> r(static_cast<size_t>(v));
  std::normal_distribution<double> d(0.0, kind == 0 ? 0.5 : (kind == 1 ? 3.0 : 10.0));
  std::uniform_int_distribution<int> small(-3, 3);
  for (auto& x : r) x = kind == 3 ? static_cast<float>(small(rng)) : static_cast<float>(d(rng));
  if (kind == 4 && v > 2) {
    r[rng() % v] = -INFINITY;
    r[rng() % v] = NAN;
  }
  if (kind == 5) std::fill(r.begin(), r.end(), -INFINITY);
  if (dtype == bfloat16)
    for (auto& x : r) x = bfloat16_round(x);
  return r;
}

std::vector<ExactCase> exact_cases() {
  std::vector<ExactCase> c;
  auto add = [&](auto set, bool penalties = false) {
    SamplingParams p;
    set(p);
    c.push_back({p, penalties});
  };
  add([](SamplingParams& p) { p.temperature = 0.0f; });
  add([](SamplingParams&) {});
  add([](SamplingParams& p) {
    p.temperature = 0.7f;
    p.top_k = 5;
  });
  add([](SamplingParams& p) { p.top_k = 1; });
  add([](SamplingParams& p) { p.top_p = 0.5; });
  add([](SamplingParams& p) {
    p.top_p = 0.95;
    p.temperature = 1.3f;
  });
  add([](SamplingParams& p) { p.min_p = 0.1; });
  add([](SamplingParams& p) {
    p.top_k = 40;
    p.top_p = 0.9;
    p.min_p = 0.05;
    p.temperature = 0.8f;
  });
  add(
      [](SamplingParams& p) {
        p.repetition_penalty = 1.2f;
        p.presence_penalty = 0.3f;
        p.frequency_penalty = 0.2f;
        p.top_p = 0.9;
      },
      true);
  add(
      [](SamplingParams& p) {
        p.temperature = 0.0f;
        p.repetition_penalty = 1.4f;
        p.frequency_penalty = 0.5f;
      },
      true);
  return c;
}

TEST_F(Sampling, IdsFollowTheIntegerRuleExactly) {
  const Device dev = test_device();
  // On the GPU every blocks-per-row setting of the kernel, unless the caller forces one.
  std::vector<std::string> clusters{""};
  const bool forced = std::getenv("LATHE_CUDA_SAMPLE_CLUSTER") != nullptr;
  if (dev == Device::cuda && !forced) clusters = {"", "1", "3", "8"};
  struct Size {
    int64_t v, rows;
    Dtype dtype;
    Layout layout;
  };
  const Size sizes[] = {
      {1, 4, float32, Layout::contiguous},     {7, 24, float32, Layout::contiguous},
      {100, 24, bfloat16, Layout::contiguous}, {5000, 24, float32, Layout::strided},
      {40000, 6, float32, Layout::contiguous}, {262144, 3, bfloat16, Layout::contiguous}};
  std::mt19937_64 rng(2024);
  int compared = 0;
  for (const Size& sz : sizes) {
    const int64_t v = sz.v, b = sz.rows;
    Host logits{{b, v}, {}}, prompt{{b, v}, {}}, gen{{b, v}, {}};
    std::vector<std::vector<float>> rows;
    std::vector<float> pr(static_cast<size_t>(b * v)), ge(static_cast<size_t>(b * v));
    std::uniform_int_distribution<int> count(0, 12);
    for (int64_t r = 0; r < b; ++r) {
      rows.push_back(exact_row(v, static_cast<int>(r % 6), rng, sz.dtype));
      logits.data.insert(logits.data.end(), rows.back().begin(), rows.back().end());
      for (int64_t i = 0; i < v; ++i) {
        const int c1 = count(rng), c2 = count(rng);
        pr[r * v + i] = c1 > 9 ? float(c1 - 9) : 0.0f;
        ge[r * v + i] = c2 > 10 ? float(c2 - 10) : 0.0f;
      }
    }
    prompt.data.assign(pr.begin(), pr.end());
    gen.data.assign(ge.begin(), ge.end());
    std::vector<float> us(static_cast<size_t>(b));
    for (int64_t r = 0; r < b; ++r)
      us[r] = r == 0 ? 0.0f : (r == 1 ? 1.0f - 0x1p-24f : float(rng() >> 40) * 0x1p-24f);
    Array la = make_array(logits, sz.dtype, sz.layout);
    SamplingInputs in{array(us, {b}), make_array(prompt, float32), make_array(gen, float32)};
    for (const ExactCase& ec : exact_cases()) {
      std::vector<int32_t> want;
      for (int64_t r = 0; r < b; ++r) {
        auto x = processed(rows[r], ec.p, pr.data() + r * v, ge.data() + r * v);
        want.push_back(exact_id(x, ec.p, us[r]));
      }
      SamplingInputs use = in;
      if (!ec.penalties) use.prompt_counts = use.generated_counts = std::nullopt;
      for (const std::string& cs : clusters) {
        if (!forced && cs.empty()) {
          unsetenv("LATHE_CUDA_SAMPLE_CLUSTER");
        } else if (!forced) {
          setenv("LATHE_CUDA_SAMPLE_CLUSTER", cs.c_str(), 1);
        }
        auto got = fast::sample_tokens(la, ec.p, use).to_vector<int32_t>();
        EXPECT_EQ(got, want) << "V " << v << " " << sz.dtype.name() << " " << layout_name(sz.layout)
                             << " cluster '" << cs << "' " << SampleTokens(ec.p).describe();
        ++compared;
      }
      if (!forced) unsetenv("LATHE_CUDA_SAMPLE_CLUSTER");
    }
  }
  EXPECT_GT(compared, 50);
}

TEST_F(Sampling, FixedPointExponentialIsAccurate) {
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const float d = -86.0f * float(i) / 200000.0f;  // the range with normal results
    const double want = std::exp(double(d));
    const double got = sampling::exp_nonpositive(d);
    worst = std::max(worst, std::abs(got - want) / want);
  }
  EXPECT_LT(worst, 4e-7) << "about 3 ulp of float32";
  EXPECT_EQ(sampling::exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(sampling::exp_nonpositive(-INFINITY), 0.0f);
}

TEST_F(Sampling, TheSlowTwinDrawsTheSameTokens) {
  // Same uniforms, float32 cumulative sums instead of integers: ids differ only where u lands
  // within rounding of a boundary.
  const int v = 64;
  const int64_t n = 4000;
  int mismatches = 0;
  uint64_t seed = 40;
  for (const ExactCase& ec : exact_cases()) {
    Row l;
    double margin = kInf;
    Counts c{Row(v, 0.0), Row(v, 0.0)};
    for (int i = 0; i < v; i += 5) c.prompt[i] = 1;
    for (int i = 0; i < v; i += 7) c.generated[i] = 2;
    for (;; ++seed) {
      l = normal_row(v, seed, 2.0);
      margin = kInf;
      if (!ec.p.greedy()) ref_probs(l, ec.p, ec.penalties ? &c : nullptr, &margin);
      if (margin > 1e-3) break;
    }
    Array rows = broadcast_to(reshape(array(l, {v}, float32), {1, v}), {n, v});
    auto in = inputs_for(ec.p, n, v, ec.penalties ? &c : nullptr, seed);
    auto fused = fast::sample_tokens(rows, ec.p, in).to_vector<int32_t>();
    auto twin = fast::sample_tokens_reference(rows, ec.p, in).to_vector<int32_t>();
    for (int64_t i = 0; i < n; ++i) mismatches += fused[i] != twin[i];
  }
  EXPECT_LE(mismatches, 2);
}

TEST_F(Sampling, CountTokensAddsOneWherePointed) {
  Array counts = array<float>({0, 1, 0, 0, 2, 0, 0, 0, 0, 5, 0, 0}, {3, 4});
  Array ids = array<int32_t>({1, 4, 3});  // 4 is out of range: not counted
  Array got = fast::count_tokens(counts, ids);
  EXPECT_EQ(got.to_vector<float>(), (std::vector<float>{0, 2, 0, 0, 2, 0, 0, 0, 0, 5, 0, 1}));
  // Repeated in a loop with the handle dropped each time (the in-place case).
  Array c = zeros({2, 3}, float32);
  keep(c);
  for (int step = 0; step < 5; ++step) {
    c = fast::count_tokens(c, array<int32_t>({step % 3, 2}));
    keep(c);
    eval(c);
  }
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{2, 2, 1, 0, 0, 5}));
  EXPECT_THROW(fast::count_tokens(zeros({2, 3}, int32), array<int32_t>({0, 0})), Error);
  EXPECT_THROW(fast::count_tokens(zeros({2, 3}, float32), array<int32_t>({0})), Error);
  EXPECT_THROW(fast::count_tokens(zeros({2, 3}, float32), array<float>({0, 0})), Error);
}

TEST_F(Sampling, BadInputsThrowNamingWhatIsWrong) {
  auto expect_error = [](auto f, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("[sample_tokens]"), std::string::npos) << m;
      EXPECT_NE(m.find(what), std::string::npos) << m;
    }
  };
  Array l = zeros({2, 5}, float32);
  SamplingParams p;
  SamplingInputs in{uniforms_for(2, 1), std::nullopt, std::nullopt};
  expect_error([&] { fast::sample_tokens(l, p, {}); }, "uniforms");
  expect_error([&] { fast::sample_tokens(l, p, {uniforms_for(3, 1)}); }, "uniforms");
  expect_error([&] { fast::sample_tokens(zeros({2, 5}, int32), p, in); }, "floating");
  expect_error([&] { fast::sample_tokens(zeros({10}, float32), p, in); }, "[B, V]");
  SamplingParams bad = p;
  bad.top_p = 0;
  expect_error([&] { fast::sample_tokens(l, bad, in); }, "top_p");
  bad = p;
  bad.temperature = -1;
  expect_error([&] { fast::sample_tokens(l, bad, in); }, "temperature");
  SamplingParams pen = p;
  pen.repetition_penalty = 1.2f;
  expect_error([&] { fast::sample_tokens(l, pen, in); }, "prompt_counts");
  SamplingInputs wrong = in;
  wrong.prompt_counts = zeros({2, 5}, float32);
  wrong.generated_counts = zeros({2, 4}, float32);
  expect_error([&] { fast::sample_tokens(l, pen, wrong); }, "generated_counts");
  if (test_device() == Device::cuda) {
    SamplingInputs host{to_device(uniforms_for(2, 1), Device::cpu), std::nullopt, std::nullopt};
    expect_error([&] { fast::sample_tokens(l, p, host); }, "device");
  }
}

}  // namespace
}  // namespace lathe::testing
