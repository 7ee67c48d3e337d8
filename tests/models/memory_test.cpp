// The canonical generation loop of ../shared/DESIGN.md on a tiny model:
// tracked arrays and active memory stay flat for 2,000 tokens.
#include <gtest/gtest.h>

#include "lathe/models/model.h"
#include "tiny_models.h"

namespace lathe::testing {
namespace {

void expect_flat_generation(const TinySpec& s, const std::string& name) {
  eval();
  auto model = load_model(write_tiny_model(s, tiny_weights(s, 2), float32, name));
  keep(model->weights());
  const int steps = 2000;
  KVCaches caches = model->make_caches(1, steps + 8);
  Array token = array(std::vector<int32_t>{1, 2, 3}, {1, 3});
  size_t kept_at_warmup = 0, unkept_at_warmup = 0, memory_at_warmup = 0;
  for (int step = 0; step < steps; ++step) {
    Array logits = model->forward(token, caches);
    Array old = token;
    token = reshape(argmax(slice_axis(logits, 1, -1, logits.shape(1)), -1), {1, 1});
    keep(cache_state(caches));
    old.free();
    async_eval(token);
    if (step == 100) {
      synchronize();
      LiveArrays live = live_arrays();
      kept_at_warmup = live.kept;
      unkept_at_warmup = live.unkept;
      memory_at_warmup = active_memory();
    }
  }
  synchronize();
  LiveArrays live = live_arrays();
  EXPECT_EQ(live.kept, kept_at_warmup) << name << "\n" << live.str();
  EXPECT_EQ(live.unkept, unkept_at_warmup) << name << "\n" << live.str();
  EXPECT_LE(active_memory(), memory_at_warmup + 4096) << name;
  EXPECT_EQ(caches[0]->offset(), steps + 2);
}

TEST(GenerationMemory, FlatOver2000TokensWithFullAttention) {
  TinySpec s;
  expect_flat_generation(s, "memory_full");
}

TEST(GenerationMemory, FlatOver2000TokensWithSlidingWindows) {
  TinySpec s;
  s.model_type = "mistral";
  s.window = 16;
  s.sliding = {true, true};
  expect_flat_generation(s, "memory_sliding");
}

}  // namespace
}  // namespace lathe::testing
