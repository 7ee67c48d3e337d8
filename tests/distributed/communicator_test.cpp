// The local communicator: all-reduce and all-gather against float64 sums and
// joins written here, on ranks that are threads with their own streams;
// many async steps without a deadlock; ranks out of step and abort() are
// errors, never hangs; the NCCL seam says what it needs.
#include "lathe/distributed/communicator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "support/harness.h"

namespace lathe::testing {
namespace {

using distributed::CommunicatorGroup;

// Runs fn(rank) on one thread per rank; fails the test (after stopping the
// group) if they have not all finished within `limit`.
void on_ranks(const CommunicatorGroup& group, const std::function<void(int)>& fn,
              std::chrono::seconds limit = std::chrono::seconds(60)) {
  std::vector<std::future<void>> done;
  for (int r = 0; r < static_cast<int>(group.size()); ++r) {
    done.push_back(std::async(std::launch::async, [&fn, r] { fn(r); }));
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (auto& d : done) {
    if (d.wait_until(deadline) != std::future_status::ready) {
      group[0]->abort("the test timed out");
      ADD_FAILURE() << "the ranks did not finish within " << limit.count() << " s (deadlock?)";
    }
  }
  for (auto& d : done) d.get();
}

// Rank r's values of a case, exactly representable in dtype.
Host rank_values(const Shape& shape, Dtype dtype, int rank, uint64_t seed) {
  return random_host(shape, dtype, seed * 131 + static_cast<uint64_t>(rank));
}

TEST(Communicator, AllReduceSumsEveryRankInEveryLayoutAndDtype) {
  for (int size : {1, 2, 3, 4}) {
    CommunicatorGroup group = distributed::make_communicator("local", size);
    for (Dtype dtype : {float32, bfloat16, float16, float64}) {
      for (Layout layout : all_layouts) {
        const Shape shape{3, 5, 8};
        Host want{shape, std::vector<double>(shape_size(shape), 0.0)};
        for (int r = 0; r < size; ++r) {
          Host v = rank_values(shape, dtype, r, 7);
          for (size_t i = 0; i < want.size(); ++i) want[i] += v[i];
        }
        std::vector<Host> got(static_cast<size_t>(size));
        on_ranks(group, [&](int r) {
          Array x = make_array(rank_values(shape, dtype, r, 7), dtype, layout);
          Array y = group[static_cast<size_t>(r)]->all_reduce_sum(x);
          EXPECT_EQ(y.dtype(), dtype);
          got[static_cast<size_t>(r)] = to_host(y);
        });
        // Summed in float32 (float64 for float64), rounded once to dtype.
        const Host rounded = round_to(want, dtype);
        const Tol tol = dtype == float64 ? Tol{1e-15, 0} : default_tol(dtype);
        for (int r = 0; r < size; ++r) {
          EXPECT_TRUE(close(got[static_cast<size_t>(r)], rounded, tol))
              << "size " << size << " " << dtype.name() << " " << layout_name(layout);
          // Every rank computes the same bits.
          EXPECT_EQ(got[static_cast<size_t>(r)].data, got[0].data);
        }
      }
    }
  }
}

TEST(Communicator, AllGatherJoinsRanksInOrderAlongAnyAxis) {
  const int size = 3;
  CommunicatorGroup group = distributed::make_communicator("local", size);
  const Shape shape{2, 3, 4};
  for (int axis : {0, 1, 2, -1}) {
    for (Dtype dtype : {float32, bfloat16, int32}) {
      std::vector<Host> got(size);
      on_ranks(group, [&](int r) {
        Array x = make_array(rank_values(shape, dtype, r, 3), dtype, Layout::transposed);
        got[static_cast<size_t>(r)] = to_host(group[static_cast<size_t>(r)]->all_gather(x, axis));
      });
      const int a = axis < 0 ? axis + 3 : axis;
      Shape out_shape = shape;
      out_shape[static_cast<size_t>(a)] *= size;
      for (int r = 0; r < size; ++r) {
        const Host& g = got[static_cast<size_t>(r)];
        ASSERT_EQ(g.shape, out_shape);
        // out[i, j, k] along axis a comes from rank idx / shape[a], index idx % shape[a].
        for (int64_t i = 0; i < out_shape[0]; ++i)
          for (int64_t j = 0; j < out_shape[1]; ++j)
            for (int64_t k = 0; k < out_shape[2]; ++k) {
              int64_t idx[3] = {i, j, k};
              const int64_t src_rank = idx[a] / shape[static_cast<size_t>(a)];
              idx[a] %= shape[static_cast<size_t>(a)];
              Host src = rank_values(shape, dtype, static_cast<int>(src_rank), 3);
              const double want = src[static_cast<size_t>((idx[0] * 3 + idx[1]) * 4 + idx[2])];
              ASSERT_EQ(g[static_cast<size_t>((i * out_shape[1] + j) * out_shape[2] + k)], want)
                  << "axis " << axis << " rank " << r;
            }
      }
    }
  }
}

// The shape of a decode loop: each rank builds a step that reads the last
// one, async_evals it, and frees what it no longer needs; some ranks block
// on their results, others never do. 300 steps of two collectives each.
TEST(Communicator, ManyAsyncStepsNeitherDeadlockNorDrift) {
  const int size = 4, steps = 300;
  CommunicatorGroup group = distributed::make_communicator("local", size);
  std::vector<std::vector<float>> finals(size);
  on_ranks(group, [&](int r) {
    auto& comm = *group[static_cast<size_t>(r)];
    Array state = array(std::vector<float>{1, 2, 3, 4}, {4});
    for (int step = 0; step < steps; ++step) {
      // Each rank adds (rank + 1) * 1e-3 then all ranks average: the state
      // moves by the mean increment every step.
      Array contribution = (state + float(r + 1) * 1e-3f) / float(size);
      Array next = comm.all_reduce_sum(contribution);
      Array gathered = comm.all_gather(reshape(next, {1, 4}), 0);
      Array old = state;
      state = reshape(slice_axis(gathered, 0, size - 1, size), {4});
      old.free();
      async_eval(state);
      if (r % 2 == 0 && step % 37 == 0) synchronize();
    }
    finals[static_cast<size_t>(r)] = state.to_vector<float>();
  });
  // Every step adds the mean of (r + 1) * 1e-3 over ranks = 2.5e-3.
  for (int r = 0; r < size; ++r) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_NEAR(finals[static_cast<size_t>(r)][static_cast<size_t>(i)], i + 1 + steps * 2.5e-3,
                  1e-3);
    }
    EXPECT_EQ(finals[static_cast<size_t>(r)], finals[0]);
  }
}

TEST(Communicator, RanksOutOfStepAreAnErrorOnEveryRank) {
  CommunicatorGroup group = distributed::make_communicator("local", 2);
  std::vector<std::string> errors(2);
  on_ranks(group, [&](int r) {
    Array x = r == 0 ? ones({2, 3}, float32) : ones({3, 2}, float32);
    try {
      eval(group[static_cast<size_t>(r)]->all_reduce_sum(x));
    } catch (const Error& e) {
      errors[static_cast<size_t>(r)] = e.what();
    }
  });
  for (const auto& e : errors) {
    EXPECT_NE(e.find("[all_reduce_sum] the ranks are out of step"), std::string::npos) << e;
    EXPECT_NE(e.find("(2, 3) float32"), std::string::npos) << e;
    EXPECT_NE(e.find("(3, 2) float32"), std::string::npos) << e;
  }
  // A sum on one rank meeting a gather on the other.
  CommunicatorGroup g2 = distributed::make_communicator("local", 2);
  std::vector<std::string> e2(2);
  on_ranks(g2, [&](int r) {
    Array x = ones({2}, float32);
    auto& c = *g2[static_cast<size_t>(r)];
    try {
      eval(r == 0 ? c.all_reduce_sum(x) : c.all_gather(x, 0));
    } catch (const Error& e) {
      e2[static_cast<size_t>(r)] = e.what();
    }
  });
  for (const auto& e : e2) EXPECT_NE(e.find("out of step"), std::string::npos) << e;
}

TEST(Communicator, AbortReleasesARankWaitingForOthers) {
  CommunicatorGroup group = distributed::make_communicator("local", 3);
  auto waiting = std::async(std::launch::async, [&] {
    try {
      eval(group[0]->all_reduce_sum(ones({4}, float32)));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "rank 0 must wait for ranks 1 and 2";
  group[2]->abort("rank 2 failed: out of memory");
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(waiting.get(), "[all_reduce_sum] aborted: rank 2 failed: out of memory");
  // Later collectives and barriers fail at once.
  EXPECT_THROW(eval(group[1]->all_reduce_sum(ones({4}, float32))), Error);
  EXPECT_THROW(group[1]->barrier(), Error);
}

TEST(Communicator, BarrierWaitsForEveryRank) {
  CommunicatorGroup group = distributed::make_communicator("local", 3);
  std::atomic<int> arrived{0};
  std::vector<int> seen(3, -1);
  on_ranks(group, [&](int r) {
    for (int round = 0; round < 20; ++round) {
      arrived++;
      group[static_cast<size_t>(r)]->barrier();
      // Nobody passes round k's barrier before all have arrived at it.
      if (arrived.load() < 3 * (round + 1)) seen[static_cast<size_t>(r)] = round;
      group[static_cast<size_t>(r)]->barrier();
    }
  });
  EXPECT_EQ(seen, (std::vector<int>{-1, -1, -1}));
}

TEST(Communicator, BadInputsAreClearErrors) {
  CommunicatorGroup group = distributed::make_communicator("local", 2);
  EXPECT_THROW(
      {
        try {
          group[0]->all_reduce_sum(ones({2}, int32));
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("[all_reduce_sum]"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(group[0]->all_gather(Array(1.0f), 0), Error);
  EXPECT_THROW(group[0]->all_gather(ones({2, 2}, float32), 2), Error);
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([] { distributed::make_communicator("local", 0); }),
            "[tp] the number of ranks must be >= 1, got 0");
  EXPECT_EQ(message([] { distributed::make_communicator("mpi", 2); }),
            "[tp] unknown communicator kind 'mpi' (expected local or nccl)");
}

TEST(Communicator, NcclSeamSaysWhatItNeedsAndSetsItsEnvironment) {
  ::setenv("NCCL_NVLS_ENABLE", "1", 1);
  try {
    distributed::make_communicator("nccl", 2);
    ADD_FAILURE() << "the CPU build has no NCCL communicator";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[tp] NCCL communicator needs the CUDA build and several GPUs");
  }
  ASSERT_NE(std::getenv("NCCL_NVLS_ENABLE"), nullptr);
  EXPECT_STREQ(std::getenv("NCCL_NVLS_ENABLE"), "0");
}

TEST(Adopt, HandsAnotherThreadsArrayOver) {
  std::optional<Array> from_other;
  std::thread([&] {
    Array x = arange(0, 6, 1, float32) * 2.0f;
    async_eval(x);
    from_other = x;
  }).join();
  Array mine = distributed::adopt(*from_other) + 1.0f;
  EXPECT_EQ(mine.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  // A lazy array would be computed on the wrong thread.
  Array lazy = ones({2}, float32) * 3.0f;
  EXPECT_THROW(distributed::adopt(lazy), Error);
}

}  // namespace
}  // namespace lathe::testing
