// Shared by the compile tests: bit-for-bit comparison of results, and running
// a function plainly and compiled on the same inputs.
#pragma once

#include <cmath>
#include <cstring>

#include "support/harness.h"

namespace lathe::testing {

// Exactly equal, bit for bit in float64 (which holds every value of the smaller dtypes).
inline ::testing::AssertionResult bitwise_equal(const Host& a, const Host& b) {
  if (a.shape != b.shape) return ::testing::AssertionFailure() << "shapes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a.data[i], &b.data[i], sizeof(double)) != 0 &&
        !(std::isnan(a[i]) && std::isnan(b[i]))) {
      return ::testing::AssertionFailure() << "[" << i << "] " << a[i] << " != " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Runs fn plainly and compiled on the same inputs (kept) and reads both results.
struct Results {
  std::vector<Host> plain, compiled;
};
inline Results run_both(const ArrayFunction& fn, const CompiledFunction& cf,
                        const std::vector<Array>& in) {
  keep(in);
  Results r;
  std::vector<Array> p = fn(in);
  std::vector<Array> c = cf(in);
  for (auto& a : p) r.plain.push_back(to_host(a));
  for (auto& a : c) r.compiled.push_back(to_host(a));
  return r;
}

}  // namespace lathe::testing
