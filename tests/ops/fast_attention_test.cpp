// fast::scaled_dot_product_attention against a float64 loop: grouped-query
// heads, causal prefill and decode, sliding windows, bool and additive masks,
// attention sinks, non-contiguous inputs, and a long decode over many blocks.
#include <cmath>
#include <limits>

#include "ops/attention_reference.h"

namespace lathe::testing {
namespace {

// Runs the op on in (q, k, v laid out as given) and compares with the loop.
::testing::AssertionResult check(const Inputs& in, Dtype dt, double scale, const RefOptions& r,
                                 Layout kv_layout = Layout::contiguous,
                                 bool q_from_projection = false, double tol_scale = 1.0) {
  Array q = make_array(in.q, dt);
  if (q_from_projection) {
    // [B, Tq, Hq, D] in memory, as a projection reshaped per head, then transposed.
    q = swapaxes(make_array(permute(in.q, {0, 2, 1, 3}), dt), 1, 2);
  }
  Array k = make_array(in.k, dt, kv_layout), v = make_array(in.v, dt, kv_layout);
  Array y =
      fast::scaled_dot_product_attention(q, k, v, static_cast<float>(scale), to_options(r, dt));
  if (y.dtype() != dt) return ::testing::AssertionFailure() << "dtype " << y.dtype().name();
  // The op takes the scale as a float; the reference uses that same value.
  Host want = ref_attention(in.q, in.k, in.v, static_cast<float>(scale), r);
  Tol tol = attn_tol(dt);
  tol.rtol *= tol_scale;
  tol.atol *= tol_scale;
  return close(to_host(y), round_to(want, dt), tol);
}

TEST(FastAttention, GroupedQueryHeadsAcrossDtypesAndLayouts) {
  uint64_t seed = 1;
  const int64_t heads[][2] = {{4, 4}, {4, 2}, {6, 1}};
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      for (const auto& h : heads) {
        for (bool projected : {false, true}) {
          Inputs in = random_inputs(dt, 2, h[0], h[1], 3, 7, 16, 16, seed += 3);
          EXPECT_TRUE(check(in, dt, 0.25, {}, layout, projected))
              << dt.name() << " kv " << layout_name(layout) << " heads " << h[0] << "/" << h[1]
              << " q projected " << projected;
        }
      }
    }
  }
}

TEST(FastAttention, CausalPrefillChunkedPrefillAndDecode) {
  uint64_t seed = 100;
  // (Tq, Tk): full prefill, a chunk after 7 cached tokens, decode, and Tq > Tk.
  const int64_t lens[][2] = {{9, 9}, {5, 12}, {1, 12}, {6, 4}};
  for (Dtype dt : {bfloat16, float32, float64}) {
    for (const auto& l : lens) {
      RefOptions r;
      r.causal = true;
      Inputs in = random_inputs(dt, 1, 4, 2, l[0], l[1], 8, 8, seed += 3);
      EXPECT_TRUE(check(in, dt, 1 / std::sqrt(8.0), r, Layout::contiguous, true))
          << dt.name() << " Tq " << l[0] << " Tk " << l[1];
    }
  }
}

TEST(FastAttention, SlidingWindow) {
  uint64_t seed = 200;
  // (Tq, Tk, window): window < Tq, chunked prefill, decode, window > Tk.
  const int64_t cases[][3] = {{8, 8, 3}, {4, 10, 5}, {1, 20, 6}, {5, 5, 16}, {130, 130, 70}};
  for (const auto& c : cases) {
    for (bool causal : {false, true}) {
      RefOptions r;
      r.causal = causal;
      r.window = static_cast<int>(c[2]);
      Inputs in = random_inputs(float32, 1, 2, 1, c[0], c[1], 8, 4, seed += 3);
      EXPECT_TRUE(check(in, float32, 0.3, r))
          << "Tq " << c[0] << " Tk " << c[1] << " window " << c[2] << " causal " << causal;
    }
  }
}

TEST(FastAttention, BooleanMasks) {
  uint64_t seed = 300;
  const Shape mask_shapes[] = {{2, 1, 4, 6}, {4, 6}, {2, 4, 1, 6}, {6}};
  for (const Shape& ms : mask_shapes) {
    RefOptions r;
    r.bool_mask = true;
    r.mask = random_host(ms, bool_, seed++);
    // Keep one key per mask row so that every query attends something.
    for (size_t i = 0; i < r.mask->size(); i += 6) (*r.mask)[i] = 1;
    Inputs in = random_inputs(float16, 2, 4, 2, 4, 6, 8, 8, seed += 3);
    EXPECT_TRUE(check(in, float16, 0.5, r)) << shape_str(ms);
    r.causal = true;  // both apply
    EXPECT_TRUE(check(in, float16, 0.5, r)) << shape_str(ms) << " causal";
  }
}

TEST(FastAttention, AdditiveMasks) {
  uint64_t seed = 400;
  const double ninf = -std::numeric_limits<double>::infinity();
  for (Dtype mask_dt : {float32, bfloat16}) {
    for (const Shape& ms : {Shape{1, 3, 1, 5}, Shape{2, 1, 4, 5}, Shape{4, 5}}) {
      RefOptions r;
      r.mask = random_host(ms, mask_dt, seed++, -3, 1);
      for (size_t i = 1; i < r.mask->size(); i += 3) (*r.mask)[i] = ninf;
      Inputs in = random_inputs(float32, 2, 3, 3, 4, 5, 8, 8, seed += 3);
      fast::AttentionOptions o = to_options(r, mask_dt);
      Array y = fast::scaled_dot_product_attention(
          make_array(in.q, float32), make_array(in.k, float32), make_array(in.v, float32), 0.4f, o);
      EXPECT_TRUE(close(to_host(y), round_to(ref_attention(in.q, in.k, in.v, 0.4, r), float32),
                        attn_tol(float32)))
          << mask_dt.name() << " " << shape_str(ms);
    }
  }
}

TEST(FastAttention, Sinks) {
  uint64_t seed = 500;
  for (Dtype dt : {bfloat16, float32}) {
    for (bool causal : {false, true}) {
      for (int window : {0, 3}) {
        RefOptions r;
        r.causal = causal;
        r.window = window;
        r.sinks = random_host({4}, float32, seed++, -1, 3);
        Inputs in = random_inputs(dt, 1, 4, 2, 5, 9, 8, 8, seed += 3);
        EXPECT_TRUE(check(in, dt, 0.35, r))
            << dt.name() << " causal " << causal << " window " << window;
      }
    }
  }
}

TEST(FastAttention, LongDecodeWithLargeScores) {
  // One query over 300 keys (several key blocks): scores span hundreds, so an
  // unstabilized softmax would overflow, and blocks must rescale correctly.
  Inputs in = random_inputs(float32, 1, 8, 2, 1, 300, 64, 32, 600, 4.0);
  RefOptions r;
  r.causal = true;
  // Scores of magnitude S carry an absolute float32 error of about S * eps,
  // which becomes a relative error of the softmax weights: widen the bound
  // (summation order differs between optimized and debug builds).
  const double large_scores = 8.0;
  EXPECT_TRUE(check(in, float32, 1.0, r, Layout::transposed, false, large_scores));
  r.window = 128;
  EXPECT_TRUE(check(in, float32, 1.0, r, Layout::contiguous, false, large_scores));
}

TEST(FastAttention, QueryWithNothingToAttendGetsZeros) {
  Inputs in = random_inputs(float32, 1, 2, 2, 2, 3, 4, 4, 700);
  RefOptions r;
  r.bool_mask = true;
  r.mask = Host{{2, 3}, {0, 0, 0, 1, 0, 1}};
  EXPECT_TRUE(check(in, float32, 1.0, r));
  Host got = to_host(
      fast::scaled_dot_product_attention(make_array(in.q, float32), make_array(in.k, float32),
                                         make_array(in.v, float32), 1.0f, to_options(r, float32)));
  for (int h = 0; h < 2; ++h) {
    for (int d = 0; d < 4; ++d) EXPECT_EQ(got[h * 8 + d], 0.0);
  }
  // With sinks too: the sink takes all the mass and has no value.
  r.sinks = Host{{2}, {0.5, -1.0}};
  EXPECT_TRUE(check(in, float32, 1.0, r));
}

TEST(FastAttention, TwinMatchesFloat64Reference) {
  Inputs in = random_inputs(float64, 2, 4, 2, 3, 7, 8, 6, 800);
  RefOptions r;
  r.causal = true;
  r.window = 4;
  r.sinks = random_host({4}, float64, 803);
  fast::AttentionOptions o = to_options(r, float64);
  o.sinks = make_array(*r.sinks, float64);
  Array y = fast::scaled_dot_product_attention_reference(
      make_array(in.q, float64), make_array(in.k, float64), make_array(in.v, float64), 0.5f, o);
  EXPECT_TRUE(close(to_host(y), ref_attention(in.q, in.k, in.v, 0.5, r), attn_tol(float64)));
}

// The fused op and its twin on the same arrays.
::testing::AssertionResult fused_matches_twin(const Array& q, const Array& k, const Array& v,
                                              float scale, const fast::AttentionOptions& o) {
  Tol tol = scaled(attn_tol(q.dtype()), 2);
  return close(to_host(fast::scaled_dot_product_attention(q, k, v, scale, o)),
               to_host(fast::scaled_dot_product_attention_reference(q, k, v, scale, o)), tol);
}

TEST(FastAttention, FusedMatchesSlowTwin) {
  uint64_t seed = 900;
  struct Case {
    int64_t hq, hkv, tq, tk;
    bool causal;
    int window;
    int mask;  // 0 none, 1 bool [Tq, Tk], 2 additive [B, 1, 1, Tk]
    bool sinks;
  };
  const Case cases[] = {{4, 2, 6, 6, false, 0, 0, false},  {4, 2, 6, 6, true, 0, 0, false},
                        {8, 2, 5, 70, true, 0, 0, false},  {8, 2, 1, 70, true, 0, 0, false},
                        {4, 4, 9, 9, false, 4, 0, false},  {4, 1, 3, 12, true, 0, 1, false},
                        {4, 2, 3, 12, false, 0, 2, false}, {4, 2, 4, 10, true, 3, 0, true},
                        {4, 2, 1, 80, false, 0, 2, true}};
  for (Dtype dt : float_dtypes) {
    for (const Case& c : cases) {
      for (bool projected : {false, true}) {
        Inputs in = random_inputs(dt, 2, c.hq, c.hkv, c.tq, c.tk, 16, 8, seed += 3);
        Array q = make_array(in.q, dt);
        if (projected) q = swapaxes(make_array(permute(in.q, {0, 2, 1, 3}), dt), 1, 2);
        Array k = make_array(in.k, dt, projected ? Layout::transposed : Layout::contiguous);
        Array v = make_array(in.v, dt, projected ? Layout::strided : Layout::contiguous);
        fast::AttentionOptions o;
        o.causal = c.causal;
        o.window = c.window;
        if (c.mask == 1) {
          Host m = random_host({c.tq, c.tk}, bool_, seed + 7);
          for (int64_t i = 0; i < c.tq; ++i) m[i * c.tk] = 1;
          o.mask = make_array(m, bool_);
        } else if (c.mask == 2) {
          o.mask = make_array(random_host({2, 1, 1, c.tk}, dt, seed + 8, -4, 0), dt);
        }
        if (c.sinks) o.sinks = make_array(random_host({c.hq}, float32, seed + 9), float32);
        EXPECT_TRUE(fused_matches_twin(q, k, v, 0.25f, o))
            << dt.name() << " heads " << c.hq << "/" << c.hkv << " Tq " << c.tq << " Tk " << c.tk
            << " causal " << c.causal << " window " << c.window << " mask " << c.mask << " sinks "
            << c.sinks << " projected " << projected;
      }
    }
  }
}

TEST(FastAttention, TwinGivesZerosWhereNothingIsAttended) {
  Array q = ones({1, 1, 2, 4}), k = ones({1, 1, 3, 4}), v = ones({1, 1, 3, 4});
  fast::AttentionOptions o;
  o.mask = array<bool>({false, false, false, true, true, false}, {2, 3});
  EXPECT_TRUE(fused_matches_twin(q, k, v, 1.0f, o));
  EXPECT_EQ(fast::scaled_dot_product_attention_reference(q, k, v, 1.0f, o).to_vector<float>(),
            (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1}));
}

TEST(FastAttention, BadInputNamesTheOp) {
  const std::string op = "scaled_dot_product_attention";
  Array q = ones({1, 6, 2, 8}), k = ones({1, 4, 3, 8}), v = ones({1, 4, 3, 8});
  auto sdpa = [](const Array& a, const Array& b, const Array& c, fast::AttentionOptions o = {}) {
    return fast::scaled_dot_product_attention(a, b, c, 1.0f, o);
  };
  EXPECT_TRUE(throws_error([&] { sdpa(q, k, v); }, op, {"6", "4", "multiple"}));
  EXPECT_TRUE(throws_error([&] { fast::scaled_dot_product_attention_reference(q, k, v, 1.0f); }, op,
                           {"multiple"}));
  Array q4 = ones({1, 4, 2, 8});
  EXPECT_TRUE(throws_error([&] { sdpa(q4, ones({1, 4, 3, 7}), v); }, op, {"(1, 4, 3, 7)"}));
  EXPECT_TRUE(throws_error([&] { sdpa(q4, k, ones({1, 4, 5, 8})); }, op, {"(1, 4, 5, 8)"}));
  EXPECT_TRUE(throws_error([&] { sdpa(ones({4, 2, 8}), k, v); }, op, {"4-D"}));
  EXPECT_TRUE(throws_error([&] { sdpa(q4, astype(k, bfloat16), v); }, op, {"bfloat16"}));
  EXPECT_TRUE(throws_error([&] { sdpa(astype(q4, int32), k, v); }, op, {"int32"}));
  fast::AttentionOptions bad_mask;
  bad_mask.mask = ones({2, 4}, bool_);
  EXPECT_TRUE(throws_error([&] { sdpa(q4, k, v, bad_mask); }, op, {"(2, 4)", "(1, 4, 2, 3)"}));
  bad_mask.mask = ones({1, 1, 1, 2, 3}, bool_);
  EXPECT_TRUE(throws_error([&] { sdpa(q4, k, v, bad_mask); }, op, {"mask"}));
  bad_mask.mask = ones({2, 3}, int32);
  EXPECT_TRUE(throws_error([&] { sdpa(q4, k, v, bad_mask); }, op, {"mask", "int32"}));
  fast::AttentionOptions bad_sinks;
  bad_sinks.sinks = ones({3});
  EXPECT_TRUE(throws_error([&] { sdpa(q4, k, v, bad_sinks); }, op, {"sinks", "(4,)"}));
  fast::AttentionOptions bad_window;
  bad_window.window = -1;
  EXPECT_TRUE(throws_error([&] { sdpa(q4, k, v, bad_window); }, op, {"window"}));
}

}  // namespace
}  // namespace lathe::testing
