// Helpers shared by the fused-op tests: permuted host copies (to build the
// non-contiguous inputs models produce) and error-message checks.
#pragma once

#include <string>
#include <vector>

#include "support/harness.h"

namespace lathe::testing {

// h's values with axes permuted as transpose(h, axes) would give.
inline Host permute(const Host& h, const std::vector<int>& axes) {
  const int nd = static_cast<int>(h.shape.size());
  Shape out_shape(nd);
  for (int i = 0; i < nd; ++i) out_shape[i] = h.shape[axes[i]];
  Strides in_st = row_strides(h.shape);
  Host r{out_shape, std::vector<double>(h.size())};
  std::vector<int64_t> idx(nd, 0);
  for (size_t flat = 0; flat < r.size(); ++flat) {
    size_t src = 0;
    for (int i = 0; i < nd; ++i) src += idx[i] * in_st[axes[i]];
    r[flat] = h[src];
    for (int i = nd - 1; i >= 0; --i) {
      if (++idx[i] < out_shape[i]) break;
      idx[i] = 0;
    }
  }
  return r;
}

inline Tol scaled(Tol t, double f) { return {t.rtol * f, t.atol * f}; }

// Runs f and checks it throws lathe::Error whose message starts with "[op]"
// and contains every fragment.
template <typename F>
::testing::AssertionResult throws_error(F&& f, const std::string& op,
                                        const std::vector<std::string>& fragments = {}) {
  try {
    f();
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("[" + op + "]", 0) != 0) {
      return ::testing::AssertionFailure() << "message does not name [" << op << "]: " << msg;
    }
    for (const auto& frag : fragments) {
      if (msg.find(frag) == std::string::npos) {
        return ::testing::AssertionFailure() << "message lacks '" << frag << "': " << msg;
      }
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no lathe::Error thrown";
}

}  // namespace lathe::testing
