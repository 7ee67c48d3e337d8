// The splitting arithmetic of tensor-parallel ranks: which part each rank
// holds (counts worked out by hand), and split Linear and Embedding layers
// on simulated ranks against float64 products written here.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "lathe/io/safetensors.h"
#include "lathe/nn/attention.h"
#include "lathe/nn/linear.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

namespace fs = std::filesystem;

nn::Shard shard(int rank, int size) {
  nn::Shard s;
  s.rank = rank;
  s.size = size;
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Shard, PartsAreNearEvenInWholeGranules) {
  using P = std::pair<int64_t, int64_t>;
  EXPECT_EQ(shard(0, 3).part(10), P(0, 4));
  EXPECT_EQ(shard(1, 3).part(10), P(4, 7));
  EXPECT_EQ(shard(2, 3).part(10), P(7, 10));
  // 4 groups of 32 over 3 ranks: 2, 1, 1 groups.
  EXPECT_EQ(shard(0, 3).part(128, 32), P(0, 64));
  EXPECT_EQ(shard(1, 3).part(128, 32), P(64, 96));
  EXPECT_EQ(shard(2, 3).part(128, 32), P(96, 128));
  EXPECT_EQ(shard(0, 1).part(7), P(0, 7));
  EXPECT_NE(error_of([] { shard(0, 2).part(100, 32); }).find("[tp]"), std::string::npos);
}

TEST(Shard, PaddedPartsPutAllPaddingAtTheEnd) {
  using P = std::pair<int64_t, int64_t>;
  // 10 rows over 4 ranks: runs of 3, the last rank 1.
  EXPECT_EQ(shard(0, 4).padded_part(10), P(0, 3));
  EXPECT_EQ(shard(2, 4).padded_part(10), P(6, 9));
  EXPECT_EQ(shard(3, 4).padded_part(10), P(9, 10));
  // 5 rows over 4 ranks: runs of 2 would leave rank 3 nothing.
  EXPECT_EQ(error_of([] { shard(0, 4).padded_part(5); }),
            "[tp] 5 rows are too few to split across 4 ranks");
}

TEST(Shard, HeadsSplitAndKvHeadsReplicate) {
  // 8 query heads, 2 kv heads (groups of 4) over 4 ranks: each rank has 2
  // query heads, which all read one kv head, held by two ranks each.
  for (int r = 0; r < 4; ++r) {
    nn::HeadPart p = nn::head_part(8, 2, shard(r, 4));
    EXPECT_EQ(p.q_begin, 2 * r);
    EXPECT_EQ(p.q_count, 2);
    EXPECT_EQ(p.kv_begin, r / 2);
    EXPECT_EQ(p.kv_count, 1);
  }
  // One kv head (multi-query) over 4 ranks: everyone holds it.
  EXPECT_EQ(nn::head_part(4, 1, shard(3, 4)).kv_begin, 0);
  // kv heads that split evenly.
  nn::HeadPart even = nn::head_part(8, 8, shard(3, 4));
  EXPECT_EQ(even.kv_begin, 6);
  EXPECT_EQ(even.kv_count, 2);
  EXPECT_EQ(error_of([] { nn::head_part(6, 2, shard(0, 4)); }),
            "[tp] num_attention_heads 6 is not divisible by the 4 ranks");
  EXPECT_NE(error_of([] {
              nn::head_part(12, 3, shard(0, 4));
            }).find("num_key_value_heads 3 and the 4 ranks do not divide one another"),
            std::string::npos);
}

// A folder holding `tensors` (float32), as nn::Weights.
nn::Weights folder_of(const std::map<std::string, Host>& tensors, const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("lathe_shard_" + name + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::map<std::string, Array> arrays;
  for (const auto& [k, h] : tensors) arrays.emplace(k, make_array(h, float32));
  io::save_safetensors((dir / "model.safetensors").string(), arrays);
  return nn::Weights(io::WeightStore::open(dir.string()), io::QuantConfig{});
}

// Runs fn(shard) on one thread per rank of a local group; returns each rank's result.
std::vector<Host> on_ranks(int size, const std::function<Array(const nn::Shard&)>& fn) {
  auto group = distributed::make_communicator("local", size);
  std::vector<std::future<Host>> done;
  for (int r = 0; r < size; ++r) {
    done.push_back(std::async(std::launch::async, [&, r] {
      return to_host(fn(nn::Shard::of(group[static_cast<size_t>(r)])));
    }));
  }
  std::vector<Host> out;
  for (auto& d : done) out.push_back(d.get());
  return out;
}

// x [rows, in] @ W^T [in, out] + b, in float64.
Host affine(const Host& x, const Host& w, const Host& b) {
  const int64_t rows = x.shape[0], in = x.shape[1], out = w.shape[0];
  Host y{{rows, out}, std::vector<double>(static_cast<size_t>(rows * out))};
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b[static_cast<size_t>(o)];
      for (int64_t k = 0; k < in; ++k) acc += x[i * in + k] * w[o * in + k];
      y[static_cast<size_t>(i * out + o)] = acc;
    }
  return y;
}

TEST(ShardedLayers, ColumnThenRowSplitLinearsEqualTheWholeProduct) {
  const int64_t in = 12, mid = 10, out = 6;
  const Host w1 = random_host({mid, in}, float32, 1), b1 = random_host({mid}, float32, 2);
  const Host w2 = random_host({out, mid}, float32, 3), b2 = random_host({out}, float32, 4);
  const Host x = random_host({5, in}, float32, 5);
  nn::Weights weights = folder_of(
      {{"up.weight", w1}, {"up.bias", b1}, {"down.weight", w2}, {"down.bias", b2}}, "mlp");
  const Host want = affine(affine(x, w1, b1), w2, b2);
  for (int size : {1, 2, 3}) {
    auto got = on_ranks(size, [&](const nn::Shard& s) {
      auto [begin, end] = s.part(mid);
      nn::Linear up(weights, "up", in, mid, true,
                    s.split() ? nn::LinearSplit::columns(begin, end) : nn::LinearSplit{});
      nn::Linear down(weights, "down", mid, out, true,
                      s.split() ? nn::LinearSplit::rows(s, begin, end) : nn::LinearSplit{});
      return down(up(make_array(x, float32)));
    });
    for (const Host& h : got) EXPECT_TRUE(close(h, want, {1e-5, 1e-5})) << size << " ranks";
  }
}

TEST(ShardedLayers, VocabularySplitEmbeddingAndHeadEqualTheWholeTable) {
  const int64_t vocab = 11, dim = 4;  // 11 rows over 4 ranks: 3, 3, 3, 2
  const Host table = random_host({vocab, dim}, float32, 9);
  const Host head = random_host({vocab, dim}, float32, 10);
  nn::Weights weights = folder_of({{"embed.weight", table}, {"head.weight", head}}, "vocab");
  const std::vector<int32_t> ids{0, 10, 3, 9, 5, 2, 8};
  for (int size : {2, 3, 4}) {
    auto looked_up = on_ranks(size, [&](const nn::Shard& s) {
      nn::Embedding embed(weights, "embed", vocab, dim, s);
      return embed(array(ids, {1, 7}));
    });
    for (const Host& h : looked_up) {
      ASSERT_EQ(h.shape, (Shape{1, 7, dim}));
      for (size_t t = 0; t < ids.size(); ++t)
        for (int64_t d = 0; d < dim; ++d)
          EXPECT_EQ(h[t * dim + d], table[static_cast<size_t>(ids[t] * dim + d)]) << size;
    }
    const Host x = random_host({3, dim}, float32, 11);
    Host zero{{vocab}, std::vector<double>(vocab, 0.0)};
    const Host want_tied = affine(x, table, zero), want_head = affine(x, head, zero);
    auto tied = on_ranks(size, [&](const nn::Shard& s) {
      return nn::Embedding(weights, "embed", vocab, dim, s).as_linear(make_array(x, float32));
    });
    auto untied = on_ranks(size, [&](const nn::Shard& s) {
      nn::Linear lm(weights, "head", dim, vocab, false,
                    nn::LinearSplit::gathered_columns(s, vocab));
      return lm(make_array(x, float32));
    });
    for (int r = 0; r < size; ++r) {
      EXPECT_TRUE(close(tied[static_cast<size_t>(r)], want_tied, {1e-5, 1e-6})) << size;
      EXPECT_TRUE(close(untied[static_cast<size_t>(r)], want_head, {1e-5, 1e-6})) << size;
    }
  }
}

TEST(ShardedLayers, AnIdOutsideTheVocabularyFailsAsInAWholeModel) {
  const Host table = random_host({8, 2}, float32, 12);
  nn::Weights weights = folder_of({{"embed.weight", table}}, "bad_id");
  for (int32_t bad : {8, 100, -20}) {
    auto group = distributed::make_communicator("local", 2);
    std::vector<std::future<std::string>> done;
    for (int r = 0; r < 2; ++r) {
      done.push_back(std::async(std::launch::async, [&, r] {
        nn::Embedding embed(weights, "embed", 8, 2, nn::Shard::of(group[static_cast<size_t>(r)]));
        Array rows = embed(array(std::vector<int32_t>{1, bad}, {2}));
        try {
          eval(rows);
        } catch (const Error& e) {
          group[0]->abort(std::string("rank ") + std::to_string(r) + " failed: " + e.what());
          return std::string(e.what());
        }
        return std::string("no error");
      }));
    }
    // The last rank's lookup fails; the other is released by the abort.
    EXPECT_NE(done[1].get().find("out of range"), std::string::npos) << bad;
    EXPECT_NE(done[0].get().find("aborted: rank 1 failed"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace lathe::testing
