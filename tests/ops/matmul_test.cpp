// matmul, addmm and gather_mm against float64 reference loops: batch
// broadcasting, 1-D operands, M = 1 (gemv paths), views, every float dtype.
#include <cmath>
#include <optional>

#include "support/harness.h"

namespace lathe::testing {
namespace {

// Row-major index of `idx` (aligned right) in a shape broadcast to `full`.
size_t bcast_index(const Shape& shape, const Shape& full, const std::vector<int64_t>& idx) {
  size_t off = 0;
  size_t k = full.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    off = off * shape[d] + (shape[d] == 1 ? 0 : idx[k + d]);
  }
  return off;
}

// numpy matmul in float64; also returns sum |a*b| per element (the error scale).
struct Ref {
  Host value, magnitude;
};

Ref ref_matmul(const Host& a0, const Host& b0) {
  Host a = a0, b = b0;
  bool va = a.shape.size() == 1, vb = b.shape.size() == 1;
  if (va) a.shape = {1, a.shape[0]};
  if (vb) b.shape = {b.shape[0], 1};
  size_t na = a.shape.size(), nb = b.shape.size();
  int64_t m = a.shape[na - 2], k = a.shape[na - 1], n = b.shape[nb - 1];
  Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  size_t nd = std::max(ba.size(), bb.size());
  Shape batch(nd);
  for (size_t i = 0; i < nd; ++i) {
    int64_t x = i < nd - ba.size() ? 1 : ba[i - (nd - ba.size())];
    int64_t y = i < nd - bb.size() ? 1 : bb[i - (nd - bb.size())];
    batch[i] = std::max(x, y);
  }
  size_t nbatch = shape_size(batch);
  Shape out = batch;
  if (!va) out.push_back(m);
  if (!vb) out.push_back(n);
  Ref r{{out, std::vector<double>(nbatch * m * n)}, {out, std::vector<double>(nbatch * m * n)}};
  std::vector<int64_t> idx(nd);
  for (size_t p = 0; p < nbatch; ++p) {
    size_t rem = p;
    for (int d = static_cast<int>(nd) - 1; d >= 0; --d) {
      idx[d] = rem % batch[d];
      rem /= batch[d];
    }
    size_t ia = bcast_index(ba, batch, idx), ib = bcast_index(bb, batch, idx);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0, mag = 0;
        for (int64_t t = 0; t < k; ++t) {
          double x = a[(ia * m + i) * k + t] * b[(ib * k + t) * n + j];
          s += x;
          mag += std::abs(x);
        }
        r.value[(p * m + i) * n + j] = s;
        r.magnitude[(p * m + i) * n + j] = mag;
      }
  }
  return r;
}

// Accumulation error relative to sum |a*b|, plus one rounding to the output dtype.
::testing::AssertionResult close_product(const Host& got, const Ref& want, Dtype dt) {
  double acc = dt == float64 ? 1e-13 : 1e-5;
  double out = dt == float64 ? 0 : dt == float32 ? 1e-7 : dt == float16 ? 1.0 / 1024 : 1.0 / 128;
  if (got.shape != want.value.shape) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(got.shape) << " != " << shape_str(want.value.shape);
  }
  for (size_t i = 0; i < got.size(); ++i) {
    double w = want.value[i];
    double bound = acc * want.magnitude[i] + out * std::abs(w) + 1e-30;
    if (!(std::abs(got[i] - w) <= bound)) {
      return ::testing::AssertionFailure()
             << "[" << i << "] got " << got[i] << ", expected " << w << " (bound " << bound << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

struct ShapeCase {
  Shape a, b;
};

const ShapeCase shape_cases[] = {
    {{3, 4}, {4, 5}},
    {{1, 64}, {64, 33}},  // M = 1
    {{17, 70}, {70, 40}},
    {{2, 3, 5, 6}, {3, 6, 4}},     // batch broadcast, b has fewer dims
    {{2, 1, 5, 6}, {1, 3, 6, 4}},  // both broadcast
    {{4, 1, 9}, {9, 7}},           // stacked M = 1 rows sharing one b
    {{3, 1, 20}, {3, 20, 11}},     // batched M = 1, distinct b
    {{6}, {6, 5}},                 // 1-D a
    {{4, 6}, {6}},                 // 1-D b
    {{2, 4, 6}, {6}},
    {{7}, {7}},        // dot product
    {{3, 0}, {0, 2}},  // K = 0
    {{0, 3}, {3, 2}},  // M = 0
};

TEST(Matmul, MatchesFloat64ReferenceAllDtypesAndLayouts) {
  uint64_t seed = 11;
  for (const auto& c : shape_cases) {
    for (Dtype dt : float_dtypes) {
      for (Layout la : all_layouts) {
        for (Layout lb : all_layouts) {
          if (shape_size(c.a) == 0 && la != Layout::contiguous) continue;
          if ((c.a[0] == 0 || c.b[0] == 0) && (la == Layout::offset || lb == Layout::offset))
            continue;
          Host a = random_host(c.a, dt, seed++), b = random_host(c.b, dt, seed++);
          Array y = matmul(make_array(a, dt, la), make_array(b, dt, lb));
          EXPECT_EQ(y.dtype(), dt);
          EXPECT_TRUE(close_product(to_host(y), ref_matmul(a, b), dt))
              << shape_str(c.a) << " @ " << shape_str(c.b) << " " << dt.name() << " "
              << layout_name(la) << "/" << layout_name(lb);
        }
      }
    }
  }
}

TEST(Matmul, KZeroGivesZeros) {
  Array y = matmul(zeros({3, 0}), zeros({0, 2}));
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  for (float v : y.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Matmul, MixedDtypesPromote) {
  Host a = random_host({3, 8}, bfloat16, 1), b = random_host({8, 2}, float32, 2);
  Array y = matmul(make_array(a, bfloat16), make_array(b, float32));
  EXPECT_EQ(y.dtype(), float32);
  EXPECT_TRUE(close_product(to_host(y), ref_matmul(a, b), float32));
}

// The decode hot path: x[1, K] @ transpose(W[N, K]) with 16-bit W, large enough
// to be split over threads, with K and N not multiples of the vector width.
TEST(Matmul, BatchOneWithTransposedHalfWeights) {
  for (Dtype dt : {bfloat16, float16, float32}) {
    for (auto [n, k] : {std::pair<int64_t, int64_t>{1027, 515}, {5, 3}, {64, 2048}}) {
      Host x = random_host({1, k}, dt, 100 + n), w = random_host({n, k}, dt, 200 + k);
      Array y = matmul(make_array(x, dt), transpose(make_array(w, dt)));
      Host wt{{k, n}, std::vector<double>(n * k)};
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j) wt[j * n + i] = w[i * k + j];
      EXPECT_TRUE(close_product(to_host(y), ref_matmul(x, wt), dt))
          << dt.name() << " " << n << "x" << k;
      // The same weights stored [K, N] take the column-streaming kernel.
      Array y2 = matmul(make_array(x, dt), make_array(wt, dt));
      EXPECT_TRUE(close_product(to_host(y2), ref_matmul(x, wt), dt)) << dt.name();
    }
  }
}

// w [n, k] as the [k, n] matrix that transpose(w) stands for.
Host transposed(const Host& w) {
  const int64_t n = w.shape[0], k = w.shape[1];
  Host t{{k, n}, std::vector<double>(w.size())};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) t[j * n + i] = w[i * k + j];
  return t;
}

// The decode GEMV on the GPU (at most 8 rows of x against W^T): the K of the
// decode shapes of llama-3.1-8b and gemma-3, an odd K (cuBLAS), M = 1, 2, 5.
TEST(Matmul, DecodeGemvShapes) {
  uint64_t seed = 500;
  for (Dtype dt : {bfloat16, float16, float32}) {
    for (int64_t k : {1152, 2560, 4096, 6912, 14336, 1001}) {
      for (int64_t n : {1, 37, 258}) {
        Host w = random_host({n, k}, dt, seed++);
        Array wt = transpose(make_array(w, dt));
        Host ref_w = transposed(w);
        for (int64_t m : {1, 2, 5}) {
          Host x = random_host({m, k}, dt, seed++);
          Array y = matmul(make_array(x, dt), wt);
          EXPECT_TRUE(close_product(to_host(y), ref_matmul(x, ref_w), dt))
              << dt.name() << " m=" << m << " k=" << k << " n=" << n;
        }
      }
    }
  }
}

// Many output rows (a vocabulary projection): N = 262144.
TEST(Matmul, DecodeGemvManyRows) {
  const int64_t n = 262144, k = 32;
  for (Dtype dt : {bfloat16, float32}) {
    Host w = random_host({n, k}, dt, 61);
    Array wt = transpose(make_array(w, dt));
    Host ref_w = transposed(w);
    for (int64_t m : {1, 2}) {
      Host x = random_host({m, k}, dt, 62 + m);
      EXPECT_TRUE(close_product(to_host(matmul(make_array(x, dt), wt)), ref_matmul(x, ref_w), dt))
          << dt.name() << " m=" << m;
    }
  }
}

// Layouts around the GEMV: padded rows of W (the GEMV reads them with a row
// stride), an odd row stride and x starting mid-row (both cuBLAS), stacked rows
// of x (6 rows fold into one GEMV, 9 do not), and addmm with a bias.
TEST(Matmul, DecodeGemvLayoutsAndBias) {
  const int64_t n = 70, k = 256;
  for (Dtype dt : {bfloat16, float32}) {
    for (int64_t pad : {8, 1}) {
      Host big = random_host({n, k + pad}, dt, 71 + pad);
      Host w{{n, k}, std::vector<double>(n * k)};
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j) w[i * k + j] = big[i * (k + pad) + j];
      Array wv = slice(make_array(big, dt), {0, 0}, {n, k});
      Host x = random_host({2, k}, dt, 73);
      EXPECT_TRUE(close_product(to_host(matmul(make_array(x, dt), transpose(wv))),
                                ref_matmul(x, transposed(w)), dt))
          << dt.name() << " row stride " << k + pad;
    }
    Host w = random_host({n, k}, dt, 74);
    Array wt = transpose(make_array(w, dt));
    Host ref_w = transposed(w);
    // x rows starting one element in: not 16-byte aligned.
    Host xbig = random_host({3, k + 1}, dt, 75);
    Host x{{3, k}, std::vector<double>(3 * k)};
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < k; ++j) x[i * k + j] = xbig[i * (k + 1) + j + 1];
    Array xv = slice(make_array(xbig, dt), {0, 1}, {3, k + 1});
    EXPECT_TRUE(close_product(to_host(matmul(xv, wt)), ref_matmul(x, ref_w), dt)) << dt.name();
    for (int64_t rows : {2, 3}) {
      Host xs = random_host({3, rows, k}, dt, 76 + rows);
      Ref r = ref_matmul(xs, ref_w);
      EXPECT_TRUE(close_product(to_host(matmul(make_array(xs, dt), wt)), r, dt))
          << dt.name() << " [3, " << rows << ", K]";
    }
    // addmm: alpha * x @ W^T + beta * c, c a bias broadcast over the rows (read by the
    // GEMV) or a full [m, n] matrix (copied into the output first).
    for (auto [alpha, beta] : {std::pair<float, float>{1.0f, 1.0f}, {0.5f, -2.0f}, {1.5f, 0.0f}}) {
      for (int64_t m : {1, 5}) {
        for (bool full : {false, true}) {
          Host c = random_host(full ? Shape{m, n} : Shape{n}, dt, 78 + m);
          Host xm = random_host({m, k}, dt, 79 + m);
          Ref r = ref_matmul(xm, ref_w);
          for (size_t i = 0; i < r.value.size(); ++i) {
            const double ci = c[full ? i : i % n];
            r.value[i] = alpha * r.value[i] + beta * ci;
            r.magnitude[i] = std::abs(alpha) * r.magnitude[i] + std::abs(beta * ci);
          }
          Array y = addmm(make_array(c, dt), make_array(xm, dt), wt, alpha, beta);
          EXPECT_TRUE(close_product(to_host(y), r, dt))
              << dt.name() << " m=" << m << " alpha " << alpha << " beta " << beta << " full c "
              << full;
        }
      }
    }
  }
}

TEST(Matmul, SwapaxesViewsOfBatches) {
  Host a = random_host({2, 3, 8, 5}, float32, 7), b = random_host({2, 3, 6, 8}, float32, 8);
  // a viewed as [2, 3, 5, 8] and b as [2, 3, 8, 6] through swapaxes of stored data.
  Array av = swapaxes(make_array(a, float32), -1, -2);
  Array bv = swapaxes(make_array(b, float32), 2, 3);
  Host at{{2, 3, 5, 8}, std::vector<double>(a.size())},
      bt{{2, 3, 8, 6}, std::vector<double>(b.size())};
  for (int p = 0; p < 6; ++p) {
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 5; ++j) at[p * 40 + j * 8 + i] = a[p * 40 + i * 5 + j];
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 8; ++j) bt[p * 48 + j * 6 + i] = b[p * 48 + i * 8 + j];
  }
  EXPECT_TRUE(close_product(to_host(matmul(av, bv)), ref_matmul(at, bt), float32));
  // A transpose over batch axes too (not just the last two) must still be right.
  Array bp = transpose(make_array(bt, float32), {1, 0, 2, 3});
  Host bpt{{3, 2, 8, 6}, std::vector<double>(bt.size())};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int e = 0; e < 48; ++e) bpt[(j * 2 + i) * 48 + e] = bt[(i * 3 + j) * 48 + e];
  Host ap = random_host({3, 2, 5, 8}, float32, 9);
  EXPECT_TRUE(
      close_product(to_host(matmul(make_array(ap, float32), bp)), ref_matmul(ap, bpt), float32));
}

TEST(Matmul, AddmmScalesAndBroadcastsC) {
  for (Dtype dt : float_dtypes) {
    Host a = random_host({2, 3, 6}, dt, 31), b = random_host({6, 4}, dt, 32);
    Host c = random_host({4}, dt, 33);
    Array y = addmm(make_array(c, dt), make_array(a, dt), make_array(b, dt), 0.5f, -2.0f);
    Ref r = ref_matmul(a, b);
    for (size_t i = 0; i < r.value.size(); ++i) {
      r.value[i] = 0.5 * r.value[i] - 2.0 * c[i % 4];
      r.magnitude[i] = 0.5 * r.magnitude[i] + 2.0 * std::abs(c[i % 4]);
    }
    EXPECT_TRUE(close_product(to_host(y), r, dt)) << dt.name();
  }
  // A 1-D product with a full c.
  Host v = random_host({5}, float32, 1), m = random_host({5, 3}, float32, 2);
  Host c = random_host({3}, float32, 3);
  Ref r = ref_matmul(v, m);
  for (int i = 0; i < 3; ++i) r.value[i] += c[i], r.magnitude[i] += std::abs(c[i]);
  EXPECT_TRUE(close_product(
      to_host(addmm(make_array(c, float32), make_array(v, float32), make_array(m, float32))), r,
      float32));
}

TEST(Matmul, GatherMmSelectsMatrices) {
  for (Dtype dt : {float32, bfloat16}) {
    for (int64_t m : {1, 3}) {
      Host a = random_host({3, m, 16}, dt, 41), b = random_host({4, 16, 8}, dt, 42);
      std::vector<int32_t> li = {0, 2, 1, 2, 0}, ri = {3, 3, 0, 1, 2};
      Array y = gather_mm(make_array(a, dt), make_array(b, dt), array(li, {5}), array(ri, {5}));
      ASSERT_EQ(y.shape(), (Shape{5, m, 8}));
      Host got = to_host(y);
      for (int p = 0; p < 5; ++p) {
        Host am{{m, 16}, {a.data.begin() + li[p] * m * 16, a.data.begin() + (li[p] + 1) * m * 16}};
        Host bm{{16, 8}, {b.data.begin() + ri[p] * 128, b.data.begin() + (ri[p] + 1) * 128}};
        Host gp{{m, 8}, {got.data.begin() + p * m * 8, got.data.begin() + (p + 1) * m * 8}};
        EXPECT_TRUE(close_product(gp, ref_matmul(am, bm), dt)) << dt.name() << " p=" << p;
      }
    }
  }
  // Only rhs indices (MoE: tokens [T, 1, 1, K] choose experts [E, K, N]), broadcast [T, 2].
  Host x = random_host({3, 1, 1, 8}, float32, 5), w = random_host({4, 8, 6}, float32, 6);
  std::vector<int32_t> ri = {0, 3, 1, 1, 2, 0};
  Array y = gather_mm(make_array(x, float32),
                      transpose(swapaxes(make_array(w, float32), 1, 2), {0, 2, 1}), std::nullopt,
                      array(ri, {3, 2}));
  ASSERT_EQ(y.shape(), (Shape{3, 2, 1, 6}));
  Host got = to_host(y);
  for (int t = 0; t < 3; ++t)
    for (int e = 0; e < 2; ++e) {
      int ex = ri[t * 2 + e];
      Host xm{{1, 8}, {x.data.begin() + t * 8, x.data.begin() + t * 8 + 8}};
      Host wm{{8, 6}, {w.data.begin() + ex * 48, w.data.begin() + ex * 48 + 48}};
      Host gp{{1, 6}, {got.data.begin() + (t * 2 + e) * 6, got.data.begin() + (t * 2 + e + 1) * 6}};
      EXPECT_TRUE(close_product(gp, ref_matmul(xm, wm), float32));
    }
}

TEST(Matmul, BadInputThrowsNamingTheOp) {
  auto throws_with = [](auto f, const std::string& what) {
    try {
      f();
    } catch (const Error& e) {
      std::string msg = e.what();
      return msg.find(what) != std::string::npos ? ::testing::AssertionSuccess()
                                                 : ::testing::AssertionFailure() << msg;
    }
    return ::testing::AssertionFailure() << "did not throw";
  };
  EXPECT_TRUE(throws_with(
      [] {
        matmul(zeros({2, 3}), zeros({4, 5}));
      },
      "[matmul] inner dimensions differ"));
  EXPECT_TRUE(throws_with([] { matmul(zeros({2, 3}), zeros({4, 5})); }, "K=3"));
  EXPECT_TRUE(throws_with(
      [] {
        matmul(zeros({2, 2, 3}), zeros({3, 3, 4}));
      },
      "[matmul] batch dimensions"));
  EXPECT_TRUE(throws_with(
      [] {
        matmul(zeros({2, 3}, int32), zeros({3, 2}, int32));
      },
      "[matmul] supports floating"));
  EXPECT_TRUE(throws_with([] { matmul(Array(2.0f), zeros({3})); }, "[matmul]"));
  EXPECT_TRUE(throws_with([] { addmm(zeros({3, 3}), zeros({2, 4}), zeros({4, 2})); }, "[addmm]"));
  EXPECT_TRUE(throws_with(
      [] {
        gather_mm(zeros({2, 3, 4}), zeros({4, 5}), zeros({2}));
      },
      "[gather_mm] lhs_indices must be an integer"));
  EXPECT_TRUE(throws_with(
      [] {
        Array y = gather_mm(zeros({2, 3, 4}), zeros({3, 4, 5}), std::nullopt,
                            array<int32_t>({0, 3}, {2}));
        eval(y);
      },
      "[gather_mm] rhs_indices value 3 is out of range"));
}

}  // namespace
}  // namespace lathe::testing
