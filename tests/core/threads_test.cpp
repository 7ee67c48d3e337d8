// Threading is explicit: each thread has its own tracker and stream; kept
// arrays are immutable and readable from any thread. (Run under TSan by the
// tsan preset: `ctest --preset tsan`.)
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "lathe/lathe.h"
#include "support/harness.h"

namespace lathe {
namespace {

TEST(Threads, TwoLoopsShareKeptWeights) {
  Array w = full({32, 32}, 0.5, float32);
  keep(w);
  eval(w);
  std::vector<float> results(2, 0.0f);
  std::vector<size_t> unkept_seen(2, 0);
  auto worker = [&](int id) {
    DeviceScope on(testing::test_device());  // each thread has its own default device
    Array x = full({32, 32}, double(id + 1), float32);
    for (int step = 0; step < 500; ++step) {
      Array old = x;
      x = x * w + w;  // converges to 1 from any start
      old.free();
      async_eval(x);
    }
    eval(x);
    results[id] = x.to_vector<float>()[0];
    unkept_seen[id] = live_arrays().unkept;  // this thread's tracker only
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_NEAR(results[0], 1.0f, 1e-5);
  EXPECT_NEAR(results[1], 1.0f, 1e-5);
  EXPECT_LE(unkept_seen[0], 2u);
  EXPECT_LE(unkept_seen[1], 2u);
  // The main thread's tracker never saw the workers' arrays.
  EXPECT_TRUE(w.valid());
  EXPECT_EQ(w.to_vector<float>()[0], 0.5f);
}

TEST(Threads, EachThreadHasItsOwnTracker) {
  Array mine = ones({4}, float32);
  std::thread t([] {
    DeviceScope on(testing::test_device());
    Array theirs = ones({4}, float32);
    eval();  // frees only this thread's unkept arrays
    EXPECT_FALSE(theirs.valid());
  });
  t.join();
  EXPECT_TRUE(mine.valid());
  EXPECT_EQ(mine.to_vector<float>()[0], 1.0f);
}

}  // namespace
}  // namespace lathe
