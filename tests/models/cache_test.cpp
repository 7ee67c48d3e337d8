// KV caches: update/offset/state semantics, in-place updates in the canonical
// loop, and attention through a cache (standard and rotating, chunks shorter
// and longer than the window) against a float64 loop over the whole sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "lathe/cache/rotating_kv_cache.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

class Cache : public ::testing::Test {
 protected:
  void SetUp() override { eval(); }
};

// [B, H, T, D] with values v(b, h, t, d) = base + t + 0.01 * d (t absolute).
Array positions(int64_t b, int64_t h, int64_t t0, int64_t t, int64_t d, double base = 0) {
  Host x{{b, h, t, d}, std::vector<double>(b * h * t * d)};
  size_t i = 0;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t ti = 0; ti < t; ++ti)
        for (int64_t di = 0; di < d; ++di) x[i++] = base + bi * 1000 + (t0 + ti) + 0.01 * di;
  return make_array(x, float32);
}

TEST_F(Cache, StandardUpdateReturnsAllPositionsSoFar) {
  StandardKVCache cache(16);
  EXPECT_EQ(cache.offset(), 0);
  EXPECT_TRUE(cache.state().empty());
  auto [k1, v1] = cache.update(positions(1, 2, 0, 3, 4), positions(1, 2, 0, 3, 4, 100));
  EXPECT_EQ(cache.offset(), 3);
  EXPECT_EQ(cache.capacity(), 16);
  EXPECT_EQ(k1.shape(), (Shape{1, 2, 3, 4}));
  auto [k2, v2] = cache.update(positions(1, 2, 3, 2, 4), positions(1, 2, 3, 2, 4, 100));
  EXPECT_EQ(cache.offset(), 5);
  ASSERT_EQ(cache.state().size(), 2u);
  EXPECT_EQ(cache.state()[0].shape(), (Shape{1, 2, 16, 4}));
  keep(cache.state());
  Host want = to_host(positions(1, 2, 0, 5, 4));
  EXPECT_TRUE(close(to_host(k2), want, {0, 0}));
  EXPECT_TRUE(close(to_host(v2), to_host(positions(1, 2, 0, 5, 4, 100)), {0, 0}));
}

TEST_F(Cache, StandardGrowsInStepsAndKeepsContents) {
  StandardKVCache cache(0, 4);
  for (int t0 = 0; t0 < 10; t0 += 3) {
    auto [k, v] = cache.update(positions(2, 1, t0, 3, 2), positions(2, 1, t0, 3, 2, 7));
    keep(cache.state());
    EXPECT_EQ(cache.capacity() % 4, 0);
    EXPECT_GE(cache.capacity(), t0 + 3);
    EXPECT_TRUE(close(to_host(k), to_host(positions(2, 1, 0, t0 + 3, 2)), {0, 0}));
    EXPECT_TRUE(close(to_host(v), to_host(positions(2, 1, 0, t0 + 3, 2, 7)), {0, 0}));
  }
  EXPECT_EQ(cache.capacity(), 12);
}

TEST_F(Cache, ResetStartsOverAndRejectsMismatchedShapes) {
  StandardKVCache cache(8);
  cache.update(positions(1, 2, 0, 2, 4), positions(1, 2, 0, 2, 4));
  EXPECT_THROW(cache.update(positions(1, 3, 2, 1, 4), positions(1, 3, 2, 1, 4)), Error);
  EXPECT_THROW(cache.update(positions(1, 2, 2, 1, 4), positions(1, 2, 2, 2, 4)), Error);
  EXPECT_THROW(cache.update(ones({2, 1, 4}), ones({2, 1, 4})), Error);
  cache.reset();
  EXPECT_EQ(cache.offset(), 0);
  auto [k, v] = cache.update(positions(1, 2, 5, 1, 4), positions(1, 2, 5, 1, 4));
  keep(cache.state());
  EXPECT_TRUE(close(to_host(k), to_host(positions(1, 2, 5, 1, 4)), {0, 0}));
  try {
    cache.update(positions(1, 2, 0, 1, 4), astype(positions(1, 2, 0, 1, 4), float16));
    FAIL() << "mixed dtypes accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("[kv_cache]", 0), 0u) << e.what();
  }
}

// The canonical loop: only the cache state is kept; the buffers are updated
// in place (same data pointer every step after the first).
template <typename MakeCache>
void expect_in_place(MakeCache make_cache, int steps) {
  auto cache = make_cache();
  const void* first = nullptr;
  for (int step = 0; step < steps; ++step) {
    auto [k, v] = cache->update(positions(1, 2, step, 1, 8), positions(1, 2, step, 1, 8, 3));
    Array out = sum(k) + sum(v);
    keep(cache->state());
    async_eval(out);
    out.item<float>();
    const void* ptr = cache->state()[0].node().buffer->ptr();
    const void* vptr = cache->state()[1].node().buffer->ptr();
    if (step == 1) first = ptr;
    if (step > 1) {
      EXPECT_EQ(ptr, first) << "key buffer reallocated at step " << step;
    }
    EXPECT_NE(ptr, vptr);
  }
}

TEST_F(Cache, StandardUpdatesInPlaceInTheCanonicalLoop) {
  expect_in_place([] { return std::make_unique<StandardKVCache>(64); }, 20);
}

TEST_F(Cache, RotatingUpdatesInPlaceInTheCanonicalLoop) {
  expect_in_place([] { return std::make_unique<RotatingKVCache>(6); }, 20);
}

TEST_F(Cache, RotatingKeepsTheLastWindowInItsRing) {
  RotatingKVCache cache(4);
  cache.update(positions(1, 1, 0, 3, 2), positions(1, 1, 0, 3, 2));
  auto [k, v] = cache.update(positions(1, 1, 3, 1, 2), positions(1, 1, 3, 1, 2));
  keep(cache.state());
  EXPECT_TRUE(close(to_host(k), to_host(positions(1, 1, 0, 4, 2)), {0, 0}));
  // Position 4 overwrites slot 0: the ring holds 4, 1, 2, 3.
  auto [k2, v2] = cache.update(positions(1, 1, 4, 1, 2), positions(1, 1, 4, 1, 2));
  keep(cache.state());
  Host got = to_host(k2);
  ASSERT_EQ(got.shape, (Shape{1, 1, 4, 2}));
  EXPECT_EQ(got[0], 4);
  EXPECT_EQ(got[2], 1);
  EXPECT_EQ(got[6], 3);
  EXPECT_EQ(cache.offset(), 5);
}

// update_at (positions as data) writes the slots update() writes and reports the keys present:
// a standard cache, a ring of the whole window that wraps, and a ring that starts small.
TEST_F(Cache, UpdateAtWritesTheSameSlotsAsUpdate) {
  struct Kind {
    std::function<std::unique_ptr<KVCache>()> make;
    int ring;  // slots of the ring (0: not a ring)
  };
  const Kind kinds[] = {{[] { return std::make_unique<StandardKVCache>(12); }, 0},
                        {[] { return std::make_unique<RotatingKVCache>(4); }, 4},
                        {[] { return std::make_unique<RotatingKVCache>(6, 3); }, 6}};
  for (const Kind& kind : kinds) {
    auto plain = kind.make(), data = kind.make();
    plain->update(positions(1, 2, 0, 2, 3), positions(1, 2, 0, 2, 3, 50));
    data->update(positions(1, 2, 0, 2, 3), positions(1, 2, 0, 2, 3, 50));
    for (int p = 2; p < 10; ++p) {
      plain->update(positions(1, 2, p, 1, 3), positions(1, 2, p, 1, 3, 50));
      StepPosition at(to_device(Array(p), test_device()));
      KVStep step = data->update_at(positions(1, 2, p, 1, 3), positions(1, 2, p, 1, 3, 50), at);
      keep(plain->state());
      keep(data->state());
      EXPECT_EQ(data->offset(), p + 1);
      const int slots = kind.ring ? std::min(p + 1, kind.ring) : p + 1;
      EXPECT_EQ(step.length.item<int32_t>(), slots) << "position " << p;
      // The filled slots hold what update() put there, position p in slot p % ring.
      Host got = to_host(slice_axis(step.keys, 2, 0, slots));
      Host want = to_host(slice_axis(plain->state()[0], 2, 0, slots));
      EXPECT_TRUE(close(got, want, {0, 0})) << "position " << p << " ring " << kind.ring;
      EXPECT_TRUE(close(to_host(slice_axis(step.values, 2, 0, slots)),
                        to_host(slice_axis(plain->state()[1], 2, 0, slots)), {0, 0}));
    }
  }
}

TEST_F(Cache, UpdateAtLimitsAndBadInput) {
  StandardKVCache standard(8);
  standard.update(positions(1, 1, 0, 3, 2), positions(1, 1, 0, 3, 2));
  EXPECT_EQ(standard.step_limit(), 8);
  RotatingKVCache full(4), small(6, 3);
  full.update(positions(1, 1, 0, 2, 2), positions(1, 1, 0, 2, 2));
  small.update(positions(1, 1, 0, 2, 2), positions(1, 1, 0, 2, 2));
  EXPECT_EQ(full.step_limit(), std::numeric_limits<int>::max());
  EXPECT_EQ(small.step_limit(), 3);
  StepPosition at(to_device(Array(3), test_device()));
  // Two positions at once, and a position that is not an int32 scalar.
  EXPECT_THROW(standard.update_at(positions(1, 1, 3, 2, 2), positions(1, 1, 3, 2, 2), at), Error);
  StepPosition bad(to_device(Array(3.0f), test_device()));
  EXPECT_THROW(standard.update_at(positions(1, 1, 3, 1, 2), positions(1, 1, 3, 1, 2), bad),
               Error);
  standard.advance(2);
  EXPECT_EQ(standard.offset(), 5);
}

// softmax attention of every query position over keys in [p - window + 1, p]
// (all keys up to p when window is 0), in float64; grouped heads.
Host attention_reference(const Host& q, const Host& k, const Host& v, int window, double scale) {
  const int64_t b = q.shape[0], hq = q.shape[1], t = q.shape[2], d = q.shape[3];
  const int64_t hkv = k.shape[1], group = hq / hkv;
  Host out{q.shape, std::vector<double>(q.size())};
  auto at = [](const Host& h, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return h[((i0 * h.shape[1] + i1) * h.shape[2] + i2) * h.shape[3] + i3];
  };
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t p = 0; p < t; ++p) {
        int64_t lo = window > 0 ? std::max<int64_t>(0, p - window + 1) : 0;
        std::vector<double> s;
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = lo; j <= p; ++j) {
          double acc = 0;
          for (int64_t di = 0; di < d; ++di)
            acc += at(q, bi, h, p, di) * at(k, bi, h / group, j, di);
          s.push_back(acc * scale);
          mx = std::max(mx, s.back());
        }
        double z = 0;
        for (double& x : s) z += (x = std::exp(x - mx));
        for (int64_t di = 0; di < d; ++di) {
          double acc = 0;
          for (int64_t j = lo; j <= p; ++j) acc += s[j - lo] / z * at(v, bi, h / group, j, di);
          out[((bi * hq + h) * t + p) * d + di] = acc;
        }
      }
  return out;
}

Host slice_t(const Host& h, int64_t t0, int64_t n) {
  Host out{{h.shape[0], h.shape[1], n, h.shape[3]}, {}};
  for (int64_t a = 0; a < h.shape[0] * h.shape[1]; ++a)
    for (int64_t t = t0; t < t0 + n; ++t)
      for (int64_t d = 0; d < h.shape[3]; ++d)
        out.data.push_back(h[(a * h.shape[2] + t) * h.shape[3] + d]);
  return out;
}

void check_chunks(KVCache& cache, int window, const std::vector<int>& chunks) {
  int total = 0;
  for (int c : chunks) total += c;
  const Host q = random_host({2, 4, total, 8}, float32, 1);
  const Host k = random_host({2, 2, total, 8}, float32, 2);
  const Host v = random_host({2, 2, total, 8}, float32, 3);
  const double scale = 1.0 / std::sqrt(8.0);
  const Host want = attention_reference(q, k, v, window, scale);
  int t0 = 0;
  for (int c : chunks) {
    auto [keys, values] = cache.update(make_array(slice_t(k, t0, c), float32),
                                       make_array(slice_t(v, t0, c), float32));
    fast::AttentionOptions mask;
    mask.causal = true;
    mask.window = window;
    Array out = fast::scaled_dot_product_attention(make_array(slice_t(q, t0, c), float32), keys,
                                                   values, float(scale), mask);
    keep(cache.state());
    EXPECT_TRUE(close(to_host(out), slice_t(want, t0, c), {1e-5, 1e-5}))
        << "chunk at " << t0 << " of " << c << " positions";
    t0 += c;
    EXPECT_EQ(cache.offset(), t0);
  }
}

TEST_F(Cache, RotatingAttentionIsExactForChunksShorterAndLongerThanTheWindow) {
  const std::vector<std::vector<int>> patterns = {
      {23}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 7, 1, 1, 8, 2}, {5, 5, 1, 12}, {2, 1, 9, 1, 1, 6}};
  for (const auto& p : patterns) {
    RotatingKVCache cache(5);
    check_chunks(cache, 5, p);
    RotatingKVCache small(5, 3);  // sized for fewer positions, widened on demand
    check_chunks(small, 5, p);
  }
}

TEST_F(Cache, StandardAttentionMatchesTheFullSequence) {
  StandardKVCache cache(0, 4);
  check_chunks(cache, 0, {3, 7, 1, 1, 8, 2});
}

}  // namespace
}  // namespace lathe::testing
