// The memory model of ../shared/DESIGN.md, one test per rule.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lathe/lathe.h"
#include "support/harness.h"

namespace lathe {
namespace {

// The device the tests run on (LATHE_TEST_DEVICE): its memory is the one observed.
Device dev() { return testing::test_device(); }

// Each test starts from a clean slate: nothing unkept survives this eval.
class MemoryModel : public ::testing::Test {
 protected:
  void SetUp() override { eval(); }
};

TEST_F(MemoryModel, ArraysAreTrackedWhenCreated) {
  size_t before = live_arrays().unkept;
  Array a = ones({8}, float32);
  Array b = a + 1.0f;
  EXPECT_GE(live_arrays().unkept, before + 2);
  EXPECT_FALSE(a.is_kept());
}

TEST_F(MemoryModel, EvalFreesUnkeptArraysAndKeepsOutputs) {
  Array x = ones({4}, float32);
  Array y = x * 3.0f;
  eval(y);
  EXPECT_FALSE(x.valid());
  EXPECT_TRUE(y.valid());
  EXPECT_TRUE(y.is_kept());
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(4, 3.0f));
  eval();  // outputs stay kept across later evals
  EXPECT_TRUE(y.valid());
  EXPECT_THROW(y.item<float>(), Error) << "item() of a 4-element array";
}

TEST_F(MemoryModel, UseAfterFreeThrowsAndSaysHowToKeep) {
  Array x = ones({2, 3}, float32);
  eval();
  ASSERT_FALSE(x.valid());
  for (auto use : {0, 1, 2, 3}) {
    try {
      switch (use) {
        case 0: (void)x.shape(); break;
        case 1: (void)(x + 1.0f); break;
        case 2: (void)x.to_vector<float>(); break;
        case 3: eval(x); break;
      }
      FAIL() << "use " << use << " of a freed array did not throw";
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("freed"), std::string::npos) << m;
      EXPECT_NE(m.find("keep()"), std::string::npos) << m;
    }
  }
}

TEST_F(MemoryModel, EvalWithoutArgumentsOnlyCleansUp) {
  Array k = full({3}, 2.0, float32);
  keep(k);
  Array lazy = k * 2.0f;
  eval();
  EXPECT_TRUE(k.valid());
  EXPECT_FALSE(k.is_available()) << "eval() with no outputs must not compute kept arrays";
  EXPECT_FALSE(lazy.valid());
  EXPECT_EQ(k.to_vector<float>(), std::vector<float>(3, 2.0f));
}

TEST_F(MemoryModel, KeptArraysSurviveEvals) {
  Array w = ones({16}, float32);
  keep(w);
  for (int i = 0; i < 5; ++i) {
    Array y = w * float(i);
    eval(y);
    y.free();
  }
  EXPECT_TRUE(w.valid());
  EXPECT_EQ(w.to_vector<float>()[7], 1.0f);
}

TEST_F(MemoryModel, FreeTakesEffectAtTheNextEval) {
  Array w = ones({16}, float32);
  keep(w);
  eval(w);
  w.free();
  EXPECT_TRUE(w.valid()) << "free() marks; the next eval frees";
  EXPECT_EQ(w.to_vector<float>()[0], 1.0f);
  eval();
  EXPECT_FALSE(w.valid());
}

TEST_F(MemoryModel, KeptArrayIsReleasedWhenItsLastHandleGoes) {
  size_t before = active_memory(dev());
  {
    Array big = zeros({1 << 20}, float32);  // 4 MiB
    eval(big);
    EXPECT_GE(active_memory(dev()), before + (4u << 20));
  }
  EXPECT_LT(active_memory(dev()), before + (1u << 20));
}

TEST_F(MemoryModel, FreeingAHandleNeverBreaksPendingWork) {
  Array x = array<float>({1, 2, 3});
  Array y = x * 10.0f;
  keep(y);
  x.free();
  eval();  // x is freed, y is still lazy and needs x's data
  EXPECT_FALSE(x.valid());
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{10, 20, 30}));

  // The same through async_eval: the input is freed while the work is pending.
  Array a = array<float>({4, 5});
  keep(a);
  Array b = exp(a) * 0.0f + a;
  async_eval(b);
  a.free();
  eval();
  EXPECT_FALSE(a.valid());
  a.free();  // freeing a freed array is harmless
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{4, 5}));
}

TEST_F(MemoryModel, FreedIntermediatesReleaseTheirMemory) {
  Array x = zeros({1 << 18}, float32);  // 1 MiB
  keep(x);
  eval(x);
  size_t base = active_memory(dev());
  Array y = x + 1.0f;
  Array z = y * 2.0f;
  eval(z);
  EXPECT_FALSE(y.valid()) << "eval frees unkept intermediates before computing";
  EXPECT_LE(active_memory(dev()), base + (1u << 20) + 4096) << live_arrays().str();
  z.free();
  eval();
  EXPECT_LE(active_memory(dev()), base + 4096) << live_arrays().str();
}

TEST_F(MemoryModel, UnaryOpReusesADonatedBufferInPlace) {
  Array x = zeros({1 << 16}, float32);
  eval(x);
  const void* before = x.node().raw();
  Array y = exp(x);
  x = Array(0.0f);  // drop the only handle: x's buffer may be donated
  eval(y);
  EXPECT_EQ(y.node().raw(), before);
  EXPECT_EQ(y.to_vector<float>()[5], 1.0f);
}

TEST_F(MemoryModel, MemoryLimitGivesAnErrorNotACrash) {
  size_t old = set_memory_limit(active_memory(dev()) + (1u << 20), dev());
  Array big = zeros({1 << 22}, float32);  // 16 MiB
  try {
    eval(big);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("memory limit"), std::string::npos) << e.what();
  }
  set_memory_limit(old, dev());
  Array ok = zeros({4}, float32);
  eval(ok);
  EXPECT_EQ(ok.to_vector<float>()[3], 0.0f);
}

TEST_F(MemoryModel, CacheAndPeakAreObservable) {
  clear_cache(dev());
  EXPECT_EQ(cache_memory(dev()), 0u);
  {
    Array a = zeros({1 << 16}, float32);
    eval(a);
  }
  EXPECT_GE(cache_memory(dev()), 256u << 10) << "a freed block goes to the cache";
  reset_peak_memory(dev());
  EXPECT_EQ(peak_memory(dev()), active_memory(dev()));
  size_t old = set_cache_limit(0, dev());
  EXPECT_EQ(cache_memory(dev()), 0u);
  set_cache_limit(old, dev());
}

TEST_F(MemoryModel, LiveArraysReportsKeptUnkeptAndLargest) {
  Array w = zeros({256, 256}, bfloat16);
  keep(w);
  eval(w);
  Array t = ones({7}, int32);
  auto r = live_arrays(2);
  EXPECT_GE(r.kept, 1u);
  EXPECT_GE(r.unkept, 1u);
  EXPECT_GE(r.bytes, w.nbytes());
  ASSERT_FALSE(r.largest.empty());
  EXPECT_EQ(r.largest[0].shape, (Shape{256, 256}));
  EXPECT_EQ(r.largest[0].dtype, bfloat16);
  EXPECT_TRUE(r.largest[0].kept);
  EXPECT_NE(r.str().find("bfloat16"), std::string::npos);
  w.free();
}

// The canonical generation loop of DESIGN.md with a preallocated cache updated
// in place by slice_update: memory and the tracked-array count stay flat.
TEST_F(MemoryModel, CanonicalLoopIsFlat) {
  constexpr int64_t kSlots = 64, kDim = 32;
  Array weights = full({kDim, kDim}, 0.02, float32);
  keep(weights);
  Array cache = zeros({kSlots, kDim}, float32);  // preallocated
  keep(cache);
  Array token = ones({1, kDim}, float32);
  eval(weights, cache, token);
  const void* cache_buffer = cache.node().raw();
  size_t active_after_warmup = 0, tracked_after_warmup = 0;
  int in_place_steps = 0;
  for (int step = 0; step < 10000; ++step) {
    int64_t slot = step % kSlots;
    // "forward": write this token into the cache, attend to it, project.
    Array new_cache = slice_update(cache, token, {slot, 0}, {slot + 1, kDim});
    Array context = mean(new_cache, 0, true);
    Array logits = tanh(matmul(token + context, weights));
    Array old = token;
    token = logits;
    Array old_cache = cache;
    cache = new_cache;
    keep(cache);
    old.free();
    old_cache.free();
    old_cache = Array(0.0f);
    async_eval(token, cache);
    if (step % 1000 == 999) {
      synchronize();
      in_place_steps += cache.node().raw() == cache_buffer;
    }
    if (step == 100) {
      synchronize();
      active_after_warmup = active_memory(dev());
      auto r = live_arrays();
      tracked_after_warmup = r.kept + r.unkept;
    }
  }
  eval(token, cache);
  EXPECT_LE(active_memory(dev()), active_after_warmup) << live_arrays().str();
  auto r = live_arrays();
  EXPECT_LE(r.kept + r.unkept, tracked_after_warmup) << r.str();
  EXPECT_EQ(in_place_steps, 10) << "the cache must be updated in place";
  EXPECT_TRUE(std::isfinite(token.to_vector<float>()[0]));
}

}  // namespace
}  // namespace lathe
