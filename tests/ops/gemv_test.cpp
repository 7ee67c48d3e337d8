// The batch-1 matrix-vector kernels (backend/cpu/gemv.h) called directly against float64
// loops: every row-group and column-tail case of the 16-weight bfloat16 blocks, row strides
// wider than a row, alpha/beta, and row counts large enough to be split over the pool.
#include "lathe/backend/cpu/gemv.h"

#include <cmath>

#include "lathe/core/half.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

template <typename T>
void check_rows(Dtype dt, int64_t n, int64_t k, int64_t ldw, float alpha, float beta) {
  Host wh = random_host({n, ldw}, dt, 11 + n * 7 + k), xh = random_host({k}, float32, 5 + k);
  std::vector<T> w(n * ldw);
  for (size_t i = 0; i < w.size(); ++i) w[i] = T(static_cast<float>(wh[i]));
  std::vector<float> x(k), y(n), y0(n);
  for (int64_t j = 0; j < k; ++j) x[j] = static_cast<float>(xh[j]);
  for (int64_t i = 0; i < n; ++i) y[i] = y0[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
  cpu::gemv_rows(dt, w.data(), ldw, n, k, x.data(), y.data(), alpha, beta);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0, mag = 0;
    for (int64_t j = 0; j < k; ++j) {
      double p = static_cast<double>(static_cast<float>(w[i * ldw + j])) * x[j];
      s += p;
      mag += std::fabs(p);
    }
    const double want = alpha * s + (beta == 0.0f ? 0.0 : double(beta) * y0[i]);
    // float32 accumulation in any order: k roundings of at most 2^-24 of the running sum.
    const double bound = 1e-6 * (std::fabs(alpha) * mag * (1 + k / 64.0)) + 1e-6 * std::fabs(want);
    ASSERT_NEAR(y[i], want, bound + 1e-30)
        << dt.name() << " n=" << n << " k=" << k << " ldw=" << ldw << " row " << i;
  }
}

TEST(Gemv, Bfloat16RowsEveryTailAndRowGroup) {
  for (int64_t k : {1, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 100, 1152}) {
    for (int64_t n : {1, 3, 4, 5, 8, 9}) {
      check_rows<bfloat16_t>(bfloat16, n, k, k, 1.0f, 0.0f);
      check_rows<bfloat16_t>(bfloat16, n, k, k + 5, 0.5f, 2.0f);  // strided rows, beta
    }
  }
}

TEST(Gemv, Bfloat16SplitOverThreads) {
  // Enough rows for several chunks (each >= 2^17 weights), an odd count so chunk edges
  // fall inside a row group, and a long row whose prefetch crosses into the next group.
  check_rows<bfloat16_t>(bfloat16, 1031, 1152, 1152, 1.0f, 0.0f);
  check_rows<bfloat16_t>(bfloat16, 517, 6912, 6920, -1.5f, 1.0f);
}

TEST(Gemv, OtherDtypesUnchanged) {
  for (int64_t k : {5, 16, 33}) {
    check_rows<float16_t>(float16, 9, k, k, 1.0f, 0.0f);
    check_rows<float>(float32, 9, k, k + 1, 1.0f, 0.5f);
  }
}

}  // namespace
}  // namespace lathe::testing
