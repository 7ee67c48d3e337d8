// scaled_dot_product_attention on the shapes that pick the CUDA backend's fast
// kernels, against the float64 loop (on the CPU they check the CPU kernel the
// same way): split-KV decode with GQA 4:1 and 8:1, head dims 64-256 and keys
// 1-9000, K/V as views of a preallocated cache, windows, masks and sinks; and
// tensor-core prefill across tile edges, chunked prefill and odd head dims.
#include <cmath>
#include <limits>

#include "ops/attention_reference.h"

#ifdef LATHE_HAS_CUDA
#include "lathe/backend/cuda/attention.h"
#endif

namespace lathe::testing {
namespace {

// The CUDA kernel a case must reach (checked when the tests run on the GPU).
enum class Path { decode, prefill, generic };

// Runs f and, on the GPU, checks that it launched the attention kernel of path.
template <typename F>
::testing::AssertionResult on_path(Path path, F&& f) {
#ifdef LATHE_HAS_CUDA
  if (test_device() == Device::cuda) {
    const cuda::AttentionLaunches before = cuda::attention_launches();
    ::testing::AssertionResult r = f();
    const cuda::AttentionLaunches after = cuda::attention_launches();
    const uint64_t want = path == Path::decode    ? after.decode - before.decode
                          : path == Path::prefill ? after.prefill - before.prefill
                                                  : after.generic - before.generic;
    if (r && want == 0) {
      return ::testing::AssertionFailure() << "did not run the "
                                           << (path == Path::decode    ? "decode"
                                               : path == Path::prefill ? "prefill"
                                                                       : "generic")
                                           << " kernel (decode " << after.decode - before.decode
                                           << ", prefill " << after.prefill - before.prefill
                                           << ", generic " << after.generic - before.generic << ")";
    }
    return r;
  }
#endif
  (void)path;
  return f();
}

struct Case {
  Dtype dt;
  int64_t b, hq, hkv, tq, tk, d, dv;
};

std::string describe(const Case& c) {
  return std::string(c.dt.name()) + " b " + std::to_string(c.b) + " heads " + std::to_string(c.hq) +
         "/" + std::to_string(c.hkv) + " Tq " + std::to_string(c.tq) + " Tk " +
         std::to_string(c.tk) + " d " + std::to_string(c.d) + "/" + std::to_string(c.dv);
}

// How K and V sit in memory.
enum class Cache {
  dense,       // [B, Hkv, Tk, D]
  head_major,  // the first Tk rows of a [B, Hkv, cap, D] buffer
  token_major  // the first Tk rows of a [B, cap, Hkv, D] buffer, axes 1 and 2 swapped
};

// k/v ([B, Hkv, Tk, D] values) in the given cache layout; the rows past Tk hold
// NaN so that a kernel reading them poisons its output.
Array cache_view(const Host& x, Dtype dt, Cache layout, int64_t cap) {
  if (layout == Cache::dense) return make_array(x, dt);
  const int64_t B = x.shape[0], H = x.shape[1], T = x.shape[2], D = x.shape[3];
  const bool heads_first = layout == Cache::head_major;
  Host full{heads_first ? Shape{B, H, cap, D} : Shape{B, cap, H, D},
            std::vector<double>(B * H * cap * D, std::nan(""))};
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t d = 0; d < D; ++d) {
          const int64_t at =
              heads_first ? ((b * H + h) * cap + t) * D + d : ((b * cap + t) * H + h) * D + d;
          full[at] = x[((b * H + h) * T + t) * D + d];
        }
      }
    }
  }
  Array a = make_array(full, dt);
  if (heads_first) return slice(a, {0, 0, 0, 0}, {B, H, T, D});
  return swapaxes(slice(a, {0, 0, 0, 0}, {B, T, H, D}), 1, 2);
}

::testing::AssertionResult run_case(const Case& c, const RefOptions& r, uint64_t seed, Cache layout,
                                    bool q_projected) {
  Inputs in = random_inputs(c.dt, c.b, c.hq, c.hkv, c.tq, c.tk, c.d, c.dv, seed);
  Array q = q_projected ? swapaxes(make_array(permute(in.q, {0, 2, 1, 3}), c.dt), 1, 2)
                        : make_array(in.q, c.dt);
  const int64_t cap = c.tk + 37;
  Array k = cache_view(in.k, c.dt, layout, cap), v = cache_view(in.v, c.dt, layout, cap);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
  fast::AttentionOptions o = to_options(r, c.dt);
  Array y = fast::scaled_dot_product_attention(q, k, v, static_cast<float>(scale), o);
  Host want = ref_attention(in.q, in.k, in.v, static_cast<float>(scale), r);
  return close(to_host(y), round_to(want, c.dt), attn_tol(c.dt));
}

::testing::AssertionResult check(const Case& c, const RefOptions& r, uint64_t seed,
                                 Cache layout = Cache::dense, bool q_projected = false) {
  const Path path = c.tq <= 4 ? Path::decode : c.dt == float32 ? Path::generic : Path::prefill;
  return on_path(path, [&] { return run_case(c, r, seed, layout, q_projected); });
}

RefOptions causal() {
  RefOptions r;
  r.causal = true;
  return r;
}

TEST(FastAttentionPaths, DecodeGroupedQueryAcrossKeyCounts) {
  uint64_t seed = 1000;
  const Case cases[] = {
      // Llama-like 4:1, head dim 128, from one key to many splits.
      {bfloat16, 1, 8, 2, 1, 1, 128, 128},
      {bfloat16, 1, 8, 2, 1, 2, 128, 128},
      {bfloat16, 1, 8, 2, 1, 33, 128, 128},
      {bfloat16, 1, 8, 2, 1, 512, 128, 128},
      {bfloat16, 2, 8, 2, 1, 1000, 128, 128},
      {bfloat16, 1, 8, 2, 1, 9000, 128, 128},
      // 8:1 (eight rows a kv head), and 8:1 with two queries (two row chunks).
      {bfloat16, 1, 16, 2, 1, 700, 128, 128},
      {float16, 1, 16, 2, 1, 9000, 128, 128},
      {float16, 1, 8, 1, 2, 4097, 256, 256},
      // Gemma-3-1B: 4 query heads over one kv head of 256.
      {bfloat16, 1, 4, 1, 1, 1, 256, 256},
      {bfloat16, 1, 4, 1, 1, 300, 256, 256},
      {bfloat16, 1, 4, 1, 1, 9000, 256, 256},
      // Speculative-decode widths, f32 and head dims 64 / 96 (a partial lane group).
      {bfloat16, 1, 8, 2, 4, 600, 128, 128},
      {float32, 1, 8, 2, 1, 1000, 128, 128},
      {float32, 1, 4, 1, 3, 2000, 64, 64},
      {float16, 2, 6, 3, 1, 513, 96, 64},
      // More rows than one tensor-core tile (8 x 3 = 24), and one row per kv head.
      {bfloat16, 1, 16, 2, 3, 500, 128, 128},
      {bfloat16, 1, 8, 8, 1, 2000, 64, 64},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(check(c, causal(), seed += 7)) << describe(c);
  }
  // Without the causal limit (all keys for every query).
  const Case plain{bfloat16, 1, 8, 2, 3, 1500, 128, 128};
  EXPECT_TRUE(check(plain, {}, seed += 7)) << describe(plain) << " not causal";
}

TEST(FastAttentionPaths, DecodeOverCacheViews) {
  uint64_t seed = 2000;
  const Case cases[] = {{bfloat16, 2, 8, 2, 1, 777, 128, 128},
                        {float32, 2, 8, 2, 2, 777, 64, 64},
                        {bfloat16, 1, 4, 1, 1, 5000, 256, 256}};
  for (const Case& c : cases) {
    for (Cache layout : {Cache::head_major, Cache::token_major}) {
      EXPECT_TRUE(check(c, causal(), seed += 7, layout, true))
          << describe(c) << " cache layout " << static_cast<int>(layout);
    }
  }
}

TEST(FastAttentionPaths, DecodeWindowMasksAndSinks) {
  uint64_t seed = 3000;
  for (int64_t tq : {1, 3}) {
    const Case c{bfloat16, 2, 8, 2, tq, 3000, 128, 128};
    RefOptions w = causal();
    w.window = 100;
    EXPECT_TRUE(check(c, w, seed += 7)) << describe(c) << " window 100";

    RefOptions bm;
    bm.bool_mask = true;
    bm.mask = random_host({tq, c.tk}, bool_, seed += 7);
    for (int64_t i = 0; i < tq; ++i) (*bm.mask)[i * c.tk + c.tk - 1] = 1;
    EXPECT_TRUE(check(c, bm, seed += 7)) << describe(c) << " bool mask";

    RefOptions am = causal();
    am.mask = random_host({c.b, 1, 1, c.tk}, bfloat16, seed += 7, -4, 1);
    for (size_t i = 0; i < am.mask->size(); i += 5) (*am.mask)[i] = -INFINITY;
    am.sinks = random_host({c.hq}, float32, seed += 7, -1, 3);
    EXPECT_TRUE(check(c, am, seed += 7)) << describe(c) << " additive mask + sinks";

    RefOptions ws = w;
    ws.sinks = random_host({c.hq}, float32, seed += 7, 0, 6);
    EXPECT_TRUE(check(c, ws, seed += 7)) << describe(c) << " window + sinks";
  }
  // Every key masked out: zeros, also through the split merge.
  const Case c{bfloat16, 1, 4, 1, 1, 2000, 256, 256};
  RefOptions none;
  none.bool_mask = true;
  none.mask = Host{{c.tk}, std::vector<double>(c.tk, 0.0)};
  EXPECT_TRUE(check(c, none, seed += 7)) << "nothing attended";
  none.sinks = Host{{4}, {0.5, -1, 2, 0}};
  EXPECT_TRUE(check(c, none, seed += 7)) << "nothing attended, sinks";
}

// Batch entry b of x [B, H, T, D], its first `len` positions along T.
Host batch_prefix(const Host& x, int64_t b, int64_t len) {
  const int64_t H = x.shape[1], T = x.shape[2], D = x.shape[3];
  Host out{{1, H, len, D}, std::vector<double>(H * len * D)};
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t t = 0; t < len; ++t) {
      for (int64_t d = 0; d < D; ++d) {
        out[(h * len + t) * D + d] = x[((b * H + h) * T + t) * D + d];
      }
    }
  }
  return out;
}

// kv_length as data: k and v are whole [B, Hkv, cap, D] buffers whose rows past each batch
// entry's length hold NaN; each entry must equal the loop over its first `length` keys.
::testing::AssertionResult run_lengths(const Case& c, const RefOptions& r,
                                       const std::vector<int64_t>& lengths, uint64_t seed) {
  Inputs in = random_inputs(c.dt, c.b, c.hq, c.hkv, c.tq, c.tk, c.d, c.dv, seed);
  Host k = in.k, v = in.v;
  for (int64_t b = 0; b < c.b; ++b) {
    const int64_t len = std::clamp<int64_t>(lengths[b], 0, c.tk);
    for (int64_t h = 0; h < c.hkv; ++h) {
      for (int64_t t = len; t < c.tk; ++t) {
        for (int64_t d = 0; d < c.d; ++d) k[((b * c.hkv + h) * c.tk + t) * c.d + d] = std::nan("");
        for (int64_t d = 0; d < c.dv; ++d) {
          v[((b * c.hkv + h) * c.tk + t) * c.dv + d] = std::nan("");
        }
      }
    }
  }
  fast::AttentionOptions o = to_options(r, c.dt);
  std::vector<int32_t> lens32(lengths.begin(), lengths.end());
  Array n = lengths.size() == 1 ? Array(lens32[0]) : array(lens32, Shape{c.b});
  o.kv_length = to_device(n, test_device());
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
  Array y = fast::scaled_dot_product_attention(make_array(in.q, c.dt), make_array(k, c.dt),
                                               make_array(v, c.dt), static_cast<float>(scale), o);
  for (int64_t b = 0; b < c.b; ++b) {
    const int64_t len = std::clamp<int64_t>(lengths[lengths.size() == 1 ? 0 : b], 0, c.tk);
    Host want = ref_attention(batch_prefix(in.q, b, c.tq), batch_prefix(in.k, b, len),
                              batch_prefix(in.v, b, len), static_cast<float>(scale), r);
    auto ok = close(to_host(slice_axis(y, 0, b, b + 1)), round_to(want, c.dt), attn_tol(c.dt));
    if (!ok) return ok << " (batch entry " << b << ", length " << len << ")";
  }
  return ::testing::AssertionSuccess();
}

TEST(FastAttentionPaths, KeyLengthsAsData) {
  uint64_t seed = 3500;
  // Decode (SIMT f32 and tensor-core bf16 kernels), a window, several queries, the
  // tensor-core prefill and the generic kernel (f32 prefill), each with two lengths.
  struct LenCase {
    Case c;
    Path path;
    int window;
    std::vector<int64_t> lengths;
  };
  const LenCase cases[] = {
      {{bfloat16, 2, 8, 2, 1, 700, 128, 128}, Path::decode, 0, {513, 37}},
      {{float32, 2, 8, 2, 1, 700, 64, 64}, Path::decode, 0, {700, 1}},
      {{bfloat16, 2, 8, 2, 1, 600, 128, 128}, Path::decode, 100, {450, 60}},
      {{bfloat16, 2, 4, 1, 3, 300, 64, 64}, Path::decode, 0, {200, 3}},
      {{bfloat16, 2, 4, 2, 40, 300, 64, 64}, Path::prefill, 0, {290, 40}},
      {{float32, 2, 4, 2, 40, 120, 32, 32}, Path::generic, 0, {100, 45}},
  };
  for (const LenCase& lc : cases) {
    RefOptions r = causal();
    r.window = lc.window;
    EXPECT_TRUE(on_path(lc.path, [&] { return run_lengths(lc.c, r, lc.lengths, seed += 7); }))
        << describe(lc.c) << " window " << lc.window;
  }
  // One length for the batch (a scalar), sinks, no causal limit, and lengths outside
  // [0, Tk] (clamped: nothing present gives zeros, too many means all).
  const Case one{bfloat16, 1, 8, 2, 1, 400, 128, 128};
  RefOptions sinks = causal();
  sinks.sinks = random_host({one.hq}, float32, seed += 7, -1, 3);
  EXPECT_TRUE(run_lengths(one, sinks, {257}, seed += 7)) << "scalar length, sinks";
  EXPECT_TRUE(run_lengths(one, {}, {130}, seed += 7)) << "not causal";
  EXPECT_TRUE(run_lengths(one, causal(), {0}, seed += 7)) << "length 0";
  EXPECT_TRUE(run_lengths(one, causal(), {1000}, seed += 7)) << "length past Tk";
}

TEST(FastAttentionPaths, KeyLengthsMatchTheSlowTwin) {
  // The composition of primitive ops (the oracle of model-level tests) takes lengths too.
  Inputs in = random_inputs(float32, 2, 4, 2, 2, 50, 16, 16, 3600);
  fast::AttentionOptions o;
  o.causal = true;
  o.window = 20;
  o.kv_length = to_device(array(std::vector<int32_t>{33, 9}, Shape{2}), test_device());
  Array q = make_array(in.q, float32), k = make_array(in.k, float32),
        v = make_array(in.v, float32);
  Array fused = fast::scaled_dot_product_attention(q, k, v, 0.25f, o);
  Array twin = fast::scaled_dot_product_attention_reference(q, k, v, 0.25f, o);
  EXPECT_TRUE(close(to_host(fused), to_host(twin), attn_tol(float32)));
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t len = b == 0 ? 33 : 9;
    RefOptions r = causal();
    r.window = 20;
    Host want = ref_attention(batch_prefix(in.q, b, 2), batch_prefix(in.k, b, len),
                              batch_prefix(in.v, b, len), 0.25f, r);
    EXPECT_TRUE(close(to_host(slice_axis(twin, 0, b, b + 1)), want, attn_tol(float32)));
  }
}

TEST(FastAttentionPaths, KeyLengthsMustBeIntegersPerBatchEntry) {
  Array q = zeros({2, 4, 1, 8}, float32), k = zeros({2, 2, 6, 8}, float32);
  fast::AttentionOptions o;
  o.kv_length = zeros({3}, int32);
  EXPECT_THROW(fast::scaled_dot_product_attention(q, k, k, 1.0f, o), Error);
  o.kv_length = zeros({2}, float32);
  EXPECT_THROW(fast::scaled_dot_product_attention(q, k, k, 1.0f, o), Error);
  o.kv_length = zeros({2, 1}, int32);
  EXPECT_THROW(fast::scaled_dot_product_attention(q, k, k, 1.0f, o), Error);
}

TEST(FastAttentionPaths, PrefillAcrossTileEdges) {
  uint64_t seed = 4000;
  const Case cases[] = {
      {bfloat16, 1, 8, 2, 300, 300, 128, 128}, {float16, 1, 8, 2, 300, 300, 128, 128},
      {bfloat16, 1, 4, 1, 300, 300, 256, 256}, {float16, 2, 4, 4, 129, 129, 64, 64},
      {bfloat16, 1, 4, 2, 77, 77, 80, 80},     {float16, 1, 4, 2, 70, 70, 72, 72},
      {bfloat16, 1, 4, 1, 90, 90, 96, 64}};
  for (const Case& c : cases) {
    EXPECT_TRUE(check(c, causal(), seed += 7, Cache::dense, true)) << describe(c) << " causal";
  }
  for (const Case& c : {cases[0], cases[3]}) {
    EXPECT_TRUE(check(c, {}, seed += 7)) << describe(c) << " not causal";
  }
}

TEST(FastAttentionPaths, ChunkedPrefill) {
  uint64_t seed = 5000;
  // A chunk after cached tokens, in a cache view.
  const Case chunk{bfloat16, 1, 8, 2, 100, 357, 128, 128};
  EXPECT_TRUE(check(chunk, causal(), seed += 7, Cache::head_major, true)) << describe(chunk);
  // A window shorter than the keys, crossing tiles.
  const Case windowed{float16, 1, 4, 1, 65, 1000, 256, 256};
  RefOptions w = causal();
  w.window = 200;
  EXPECT_TRUE(check(windowed, w, seed += 7, Cache::token_major)) << describe(windowed);
  // A few queries past the decode path.
  const Case few{bfloat16, 2, 8, 2, 8, 20, 128, 128};
  EXPECT_TRUE(check(few, causal(), seed += 7)) << describe(few);
  // More queries than keys: the first rows attend nothing.
  const Case over{float16, 1, 4, 2, 70, 50, 64, 64};
  EXPECT_TRUE(check(over, causal(), seed += 7)) << describe(over);
}

TEST(FastAttentionPaths, PrefillMasksAndSinks) {
  uint64_t seed = 6000;
  const Case c{bfloat16, 2, 4, 2, 130, 130, 128, 128};
  RefOptions bm;
  bm.bool_mask = true;
  bm.mask = random_host({c.b, 1, c.tq, c.tk}, bool_, seed += 7);
  for (int64_t i = 0; i < c.b * c.tq; ++i) (*bm.mask)[i * c.tk + i % c.tq] = 1;
  EXPECT_TRUE(check(c, bm, seed += 7)) << "bool mask";
  bm.causal = true;
  EXPECT_TRUE(check(c, bm, seed += 7)) << "bool mask, causal";

  RefOptions am;
  am.mask = random_host({c.tq, c.tk}, bfloat16, seed += 7, -3, 1);
  for (size_t i = 3; i < am.mask->size(); i += 7) (*am.mask)[i] = -INFINITY;
  am.sinks = random_host({c.hq}, float32, seed += 7, -1, 3);
  EXPECT_TRUE(check(c, am, seed += 7)) << "additive mask + sinks";

  RefOptions ws = causal();
  ws.window = 50;
  ws.sinks = random_host({c.hq}, float32, seed += 7, 0, 4);
  EXPECT_TRUE(check(c, ws, seed += 7)) << "window + sinks";
}

}  // namespace
}  // namespace lathe::testing
