// The tensor-parallel runner itself: flat memory over a 500-step canonical
// loop, bad rank counts and foreign caches as clear errors, a rank that fails
// mid-step stopping the group instead of hanging it, and quantized weights
// split in whole groups.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>

#include "lathe/io/quantize_folder.h"
#include "lathe/models/tensor_parallel.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

namespace fs = std::filesystem;

std::string fixture_dir(const std::string& name) {
  return std::string(LATHE_SOURCE_DIR) + "/tests/data/models/" + name;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

LoadOptions f32() {
  LoadOptions o;
  o.dtype = float32;
  return o;
}

TEST(TensorParallelModel, MemoryStaysFlatOver500Steps) {
  eval();
  TensorParallelModel model(fixture_dir("llama-tiny"), f32(), 2);
  const int steps = 500;
  KVCaches caches = model.make_caches(1, steps + 8);
  Array token = array(std::vector<int32_t>{1, 2, 3}, {1, 3});
  size_t main_arrays = 0, memory = 0;
  std::vector<size_t> rank_arrays(2);
  auto rank_live = [&] {
    std::vector<size_t> out(2);
    model.on_each_rank([&](int r, LanguageModel&) {
      synchronize();
      LiveArrays live = live_arrays();
      out[static_cast<size_t>(r)] = live.kept + live.unkept;
    });
    return out;
  };
  for (int step = 0; step < steps; ++step) {
    Array logits = model.forward(token, caches);
    Array old = token;
    token = reshape(argmax(slice_axis(logits, 1, -1, logits.shape(1)), -1), {1, 1});
    keep(cache_state(caches));
    old.free();
    async_eval(token);
    if (step == 50) {
      synchronize();
      rank_arrays = rank_live();
      LiveArrays live = live_arrays();
      main_arrays = live.kept + live.unkept;
      memory = active_memory();
    }
  }
  synchronize();
  EXPECT_EQ(rank_live(), rank_arrays);
  LiveArrays live = live_arrays();
  EXPECT_EQ(live.kept + live.unkept, main_arrays) << live.str();
  EXPECT_LE(active_memory(), memory + 4096);
  EXPECT_EQ(caches[0]->offset(), steps + 2);
}

TEST(TensorParallelModel, RankCountsThatDoNotSplitAreClearErrors) {
  const std::string dir = fixture_dir("llama-tiny");  // 4 heads, 2 kv heads, vocab 512
  EXPECT_EQ(error_of([&] { TensorParallelModel(dir, f32(), 0); }),
            "[tp] the number of ranks must be >= 1, got 0");
  const std::string three = error_of([&] { TensorParallelModel(dir, f32(), 3); });
  EXPECT_NE(three.find("[tp] " + dir +
                       "/config.json: num_attention_heads 4 is not divisible by "
                       "the 3 ranks"),
            std::string::npos)
      << three;
  EXPECT_NE(error_of([&] { TensorParallelModel(dir, f32(), 8); }).find("num_attention_heads 4"),
            std::string::npos);
  LoadOptions sharded = f32();
  sharded.shard.size = 2;
  EXPECT_NE(error_of([&] { TensorParallelModel(dir, sharded, 2); }).find("left unset"),
            std::string::npos);
  EXPECT_NE(error_of([&] { TensorParallelModel(dir, f32(), 2, "nccl"); }).find("NCCL"),
            std::string::npos);
}

TEST(TensorParallelModel, ForeignCachesAndBadTokensAreClearErrors) {
  TensorParallelModel model(fixture_dir("llama-tiny"), f32(), 2);
  auto whole = load_model(fixture_dir("llama-tiny"), f32());
  KVCaches plain = whole->make_caches(1, 8);
  Array tokens = array(std::vector<int32_t>{1, 2}, {1, 2});
  EXPECT_NE(error_of([&] { model.forward(tokens, plain); }).find("this model's make_caches"),
            std::string::npos);
  KVCaches caches = model.make_caches(1, 8);
  EXPECT_NE(error_of([&] {
              caches[0]->update(ones({1, 1, 1, 16}), ones({1, 1, 1, 16}));
            }).find("updated by its ranks"),
            std::string::npos);
  // Every rank refuses float tokens alike: nothing was scheduled, the model goes on.
  EXPECT_NE(error_of([&] {
              model.forward(ones({1, 2}, float32), caches);
            }).find("tokens must be integers"),
            std::string::npos);
  EXPECT_EQ(model.forward(tokens, caches).shape(), (Shape{1, 2, 512}));
}

// An id outside the vocabulary fails on the last rank when it runs; the
// others must not wait for it forever, and the model says it must be reloaded.
TEST(TensorParallelModel, ARankFailingMidStepStopsTheGroup) {
  TensorParallelModel model(fixture_dir("llama-tiny"), f32(), 2);
  KVCaches caches = model.make_caches(1, 8);
  auto outcome = std::async(std::launch::async, [&] {
    return error_of([&] {
      eval(model.forward(array(std::vector<int32_t>{1, 900}, {1, 2}), caches));
    });
  });
  ASSERT_EQ(outcome.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "deadlock";
  const std::string e = outcome.get();
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  const std::string again = error_of([&] {
    model.forward(array(std::vector<int32_t>{1}, {1, 1}), caches);
  });
  EXPECT_NE(again.find("[tp] the ranks stopped after a failure (rank 1 failed"), std::string::npos)
      << again;
  EXPECT_NE(again.find("load the model again"), std::string::npos) << again;
}

// MLX-quantized weights split in whole groups: rank 1's o_proj and down_proj
// start at input feature 32 and 64, multiples of the group size 32.
TEST(TensorParallelModel, QuantizedModelSplitsInWholeGroups) {
  fs::path q = fs::temp_directory_path() / ("lathe_tp_q4_" + std::to_string(::getpid()));
  fs::remove_all(q);
  io::QuantizeOptions qo;
  qo.bits = 4;
  qo.group_size = 32;
  io::quantize_folder(fixture_dir("llama-tiny"), q.string(), qo);
  auto whole = load_parallel_model(q.string(), f32(), 1);
  TensorParallelModel split(q.string(), f32(), 2);
  const std::vector<int32_t> ids{5, 17, 301, 42, 7, 99};
  Array tokens = array(ids, {1, 6});
  KVCaches c1 = whole->make_caches(1, 8), c2 = split.make_caches(1, 8);
  const Host got = to_host(split.forward(tokens, c2)), want = to_host(whole->forward(tokens, c1));
  double dmax = 0, wmax = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    dmax = std::max(dmax, std::abs(got[i] - want[i]));
    wmax = std::max(wmax, std::abs(want[i]));
  }
  EXPECT_LE(dmax / wmax, 1e-5);
  // With 4 ranks, o_proj's 16-feature parts cut groups of 32.
  const std::string e = error_of([&] { TensorParallelModel(q.string(), f32(), 4); });
  EXPECT_NE(e.find("groups of 32 input features, which do not split"), std::string::npos) << e;
  fs::remove_all(q);
}

}  // namespace
}  // namespace lathe::testing
