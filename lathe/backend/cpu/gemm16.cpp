// Prefill-sized products with 16-bit weights. Widening the whole weight first writes
// and rereads a float32 copy twice its size through DRAM; widening a panel that stays
// in cache right before sgemm consumes it avoids that traffic.
#include "lathe/backend/cpu/gemm16.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "lathe/backend/cpu/gemv.h"
#include "lathe/backend/cpu/parallel.h"

namespace lathe::cpu {

namespace {

// Float32 elements per panel: small enough to stay in the L2/L3 between the widening
// and sgemm, large enough that sgemm's per-call packing of A is amortized.
constexpr int64_t kPanelElems = int64_t(1) << 21;
// Elements each widening task converts at least, so the fork-join pays off.
constexpr int64_t kWidenGrain = int64_t(1) << 16;

int64_t panel_width(int64_t n, int64_t k) {
  int64_t w = std::max<int64_t>(16, kPanelElems / std::max<int64_t>(k, 1) / 16 * 16);
  return std::min(w, n);
}

}  // namespace

void gemm_16bit_b(bool a_trans, const float* a, int64_t lda, Dtype bdtype, const void* b,
                  bool b_trans, int64_t ldb, int64_t m, int64_t n, int64_t k, float alpha,
                  float beta, float* c, int64_t ldc) {
  const int64_t nb = panel_width(n, k);
  thread_local std::vector<float> buf;
  if (buf.size() < size_t(nb * k)) buf.resize(nb * k);
  float* p = buf.data();
  const char* src = static_cast<const char*>(b);
  const int64_t es = int64_t(bdtype.size());
  const auto ta = a_trans ? CblasTrans : CblasNoTrans;
  for (int64_t j0 = 0; j0 < n; j0 += nb) {
    const int64_t w = std::min(nb, n - j0);
    if (b_trans) {
      // Rows j0..j0+w of the stored [n, k] matrix, each widened to a dense row of k.
      parallel_for(w, std::max<int64_t>(1, kWidenGrain / k), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) to_float(bdtype, src + (j0 + r) * ldb * es, p + r * k, k);
      });
      cblas_sgemm(CblasRowMajor, ta, CblasTrans, m, w, k, alpha, a, lda, p, k, beta, c + j0, ldc);
    } else {
      // Columns j0..j0+w of every row of the stored [k, n] matrix.
      parallel_for(k, std::max<int64_t>(1, kWidenGrain / w), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) to_float(bdtype, src + (i * ldb + j0) * es, p + i * w, w);
      });
      cblas_sgemm(CblasRowMajor, ta, CblasNoTrans, m, w, k, alpha, a, lda, p, w, beta, c + j0, ldc);
    }
  }
}

}  // namespace lathe::cpu
