// The prefill kernel with 16-bit weights (backend/cpu/gemm16.h) called directly against
// float64 loops: panel tails in N, K larger than a panel's budget, strided A, B and C,
// transposed A, both weight layouts, alpha/beta; and the matmul op on prefill shapes.
#include "lathe/backend/cpu/gemm16.h"

#include <cmath>

#include "lathe/core/half.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

struct Case {
  int64_t m, n, k;
  bool a_trans, b_trans;
  int64_t pad;  // extra elements per row of A, B and C (leading dimensions wider than needed)
  float alpha, beta;
};

template <typename T>
void check(Dtype dt, const Case& c) {
  const int64_t lda = (c.a_trans ? c.m : c.k) + c.pad;
  const int64_t ldb = (c.b_trans ? c.k : c.n) + c.pad, ldc = c.n + c.pad;
  const int64_t a_rows = c.a_trans ? c.k : c.m, b_rows = c.b_trans ? c.n : c.k;
  Host ah = random_host({a_rows * lda}, float32, 3 + c.m + c.k);
  Host bh = random_host({b_rows * ldb}, dt, 7 + c.n * 3 + c.k);
  std::vector<float> a(ah.size()), cv(c.m * ldc), c0;
  std::vector<T> b(bh.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(ah[i]);
  for (size_t i = 0; i < b.size(); ++i) b[i] = T(static_cast<float>(bh[i]));
  for (size_t i = 0; i < cv.size(); ++i) cv[i] = 0.125f * static_cast<float>(i % 9) - 0.5f;
  c0 = cv;
  cpu::gemm_16bit_b(c.a_trans, a.data(), lda, dt, b.data(), c.b_trans, ldb, c.m, c.n, c.k, c.alpha,
                    c.beta, cv.data(), ldc);
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double s = 0, mag = 0;
      for (int64_t t = 0; t < c.k; ++t) {
        double x = c.a_trans ? a[t * lda + i] : a[i * lda + t];
        double y = static_cast<float>(c.b_trans ? b[j * ldb + t] : b[t * ldb + j]);
        s += x * y;
        mag += std::fabs(x * y);
      }
      const double want = c.alpha * s + (c.beta == 0.0f ? 0.0 : double(c.beta) * c0[i * ldc + j]);
      const double bound = 1e-5 * std::fabs(c.alpha) * mag + 1e-6 * std::fabs(want) + 1e-30;
      ASSERT_NEAR(cv[i * ldc + j], want, bound)
          << dt.name() << " m=" << c.m << " n=" << c.n << " k=" << c.k << " at " << i << "," << j;
    }
    // Padding between rows of C is never written.
    for (int64_t j = c.n; j < ldc; ++j) ASSERT_EQ(cv[i * ldc + j], c0[i * ldc + j]);
  }
}

const Case cases[] = {
    {2, 3, 5, false, true, 0, 1.0f, 0.0f},
    {5, 17, 33, false, false, 0, 1.0f, 0.0f},
    {7, 40, 19, true, true, 3, 0.5f, 2.0f},
    {7, 40, 19, true, false, 3, -1.0f, 1.0f},
    // Panels are 2^21 floats: K = 1152 gives 1808-wide panels, so N = 1900 leaves a tail.
    {3, 1900, 1152, false, true, 0, 1.0f, 0.0f},
    {3, 1900, 1152, false, false, 5, 1.0f, 0.5f},
    // A K too long for the budget still gets 16-wide panels: tails of 16 and 5.
    {2, 37, 140000, false, true, 1, 1.0f, 0.0f},
    {2, 37, 140000, true, false, 1, 1.0f, -1.0f},
};

TEST(Gemm16, Bfloat16EveryPanelTailAndLayout) {
  for (const Case& c : cases) check<bfloat16_t>(bfloat16, c);
}

TEST(Gemm16, Float16EveryPanelTailAndLayout) {
  for (const Case& c : cases) check<float16_t>(float16, c);
}

// x[B, M, K] @ transpose(W[N, K]) through the op: the batch folds into one tall product
// over 16-bit panels; a broadcast batch of distinct weights runs one product each.
TEST(Gemm16, MatmulPrefillShapesAgainstFloat64) {
  for (Dtype dt : {bfloat16, float16}) {
    const int64_t nb = 2, m = 9, k = 1152, n = 1850;
    Host x = random_host({nb, m, k}, dt, 31), w = random_host({n, k}, dt, 32);
    Array y = matmul(make_array(x, dt), transpose(make_array(w, dt)));
    ASSERT_EQ(y.shape(), (Shape{nb, m, n}));
    Host got = to_host(y);
    const double out = dt == float16 ? 1.0 / 1024 : 1.0 / 128;
    for (int64_t p = 0; p < nb * m; ++p) {
      for (int64_t j = 0; j < n; j += 7) {
        double s = 0, mag = 0;
        for (int64_t t = 0; t < k; ++t) {
          double v = x[p * k + t] * w[j * k + t];
          s += v;
          mag += std::fabs(v);
        }
        ASSERT_NEAR(got[p * n + j], s, 1e-5 * mag + out * std::fabs(s) + 1e-30)
            << dt.name() << " row " << p << " col " << j;
      }
    }
    // Distinct weights per batch entry, [K, N] row-major.
    Host a = random_host({2, 5, 40}, dt, 33), b = random_host({2, 40, 21}, dt, 34);
    Host g = to_host(matmul(make_array(a, dt), make_array(b, dt)));
    for (int64_t q = 0; q < 2; ++q)
      for (int64_t i = 0; i < 5; ++i)
        for (int64_t j = 0; j < 21; ++j) {
          double s = 0, mag = 0;
          for (int64_t t = 0; t < 40; ++t) {
            double v = a[(q * 5 + i) * 40 + t] * b[(q * 40 + t) * 21 + j];
            s += v;
            mag += std::fabs(v);
          }
          ASSERT_NEAR(g[(q * 5 + i) * 21 + j], s, 1e-5 * mag + out * std::fabs(s) + 1e-30);
        }
  }
}

}  // namespace
}  // namespace lathe::testing
