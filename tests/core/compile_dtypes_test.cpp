// compile() over every dtype: a fused chain of each dtype's ops, in every input
// layout and with broadcast operands, matches float64 references written here
// and the unfused graph bit for bit. On cuda the regions run as generated
// kernels (counted); a region past the generator's limits runs op by op.
#include <cmath>
#include <cstdint>

#include "core/compile_support.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

bool on_cuda() { return test_device() == Device::cuda; }

// Inputs for the integer chains: small, so that no product overflows any dtype.
Host int_host(const Shape& shape, Dtype dt, uint64_t seed) {
  return random_host(shape, dt, seed, dt.kind() == DtypeKind::unsigned_int ? 0 : -20, 20);
}

ArrayFunction chain_for(Dtype dt) {
  if (dt.is_floating()) {
    return [](const std::vector<Array>& in) {
      const Array& a = in[0];
      const Array& b = in[1];
      Array r = where(a > b, sqrt(abs(a * b)) + 0.5f, tanh(a - b) * 2.0f);
      return std::vector<Array>{r};
    };
  }
  if (dt == bool_) {
    return [](const std::vector<Array>& in) {
      const Array& a = in[0];
      const Array& b = in[1];
      Array r = logical_or(logical_and(a, logical_not(b)), a == b);
      return std::vector<Array>{astype(r, float32) * 2.0f + astype(a, float32)};
    };
  }
  return [](const std::vector<Array>& in) {
    const Array& a = in[0];
    const Array& b = in[1];
    Array w = where(a > b, a * 2 + b, floor_divide(a + 7, 3));
    return std::vector<Array>{((w ^ b) & 31) % 5};
  };
}

double reference(Dtype dt, double a, double b) {
  if (dt.is_floating()) return a > b ? std::sqrt(std::abs(a * b)) + 0.5 : std::tanh(a - b) * 2.0;
  if (dt == bool_) {
    bool x = a != 0, y = b != 0;
    return ((x && !y) || (x == y) ? 2.0 : 0.0) + (x ? 1.0 : 0.0);
  }
  const int64_t x = static_cast<int64_t>(a), y = static_cast<int64_t>(b);
  const int64_t fd = static_cast<int64_t>(std::floor((x + 7) / 3.0));
  const int64_t w = x > y ? x * 2 + y : fd;
  return static_cast<double>(((w ^ y) & 31) % 5);
}

Tol chain_tol(Dtype dt) {
  if (!dt.is_floating()) return {0, 0};
  Tol t = default_tol(dt);
  return {t.rtol * 8, t.atol * 8};
}

Host make_input(const Shape& shape, Dtype dt, uint64_t seed) {
  return dt.is_floating() ? random_host(shape, dt, seed, -3, 3) : int_host(shape, dt, seed);
}

TEST(CompileDtypes, EveryDtypeAndLayoutMatchesReferenceAndUnfused) {
  uint64_t seed = 100;
  for (Dtype dt : all_dtypes) {
    ArrayFunction fn = chain_for(dt);
    auto cf = compile(fn);
    for (Layout layout : all_layouts) {
      // b broadcasts along the leading axis; the last axis crosses any vector width.
      Host a = make_input({4, 6, 67}, dt, seed++);
      Host b = make_input({6, 67}, dt, seed++);
      FusedKernelStats before = fused_kernel_stats();
      Results r = run_both(fn, cf, {make_array(a, dt, layout), make_array(b, dt)});
      FusedKernelStats after = fused_kernel_stats();
      Host want = zip(a, b, [&](double x, double y) { return reference(dt, x, y); });
      EXPECT_TRUE(close(r.compiled[0], want, chain_tol(dt)))
          << dt.name() << " " << layout_name(layout);
      EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]))
          << dt.name() << " " << layout_name(layout);
      EXPECT_EQ(cf.last_trace().fused_kernels, 1u) << dt.name();
      if (on_cuda()) {
        EXPECT_EQ(after.launches, before.launches + 1) << dt.name() << " " << layout_name(layout);
        EXPECT_EQ(after.fallbacks, before.fallbacks) << after.last_failure;
      }
    }
  }
}

TEST(CompileDtypes, LongRowsAndUniformOperands) {
  // Long contiguous rows take the vectorized path and its tail; b is a
  // one-element array read once (not a constant of the trace).
  uint64_t seed = 200;
  for (Dtype dt : all_dtypes) {
    ArrayFunction fn = chain_for(dt);
    auto cf = compile(fn);
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{70001}}) {
      Host a = make_input({2, n}, dt, seed++);
      Host b = make_input({1}, dt, seed++);
      Results r = run_both(fn, cf, {make_array(a, dt), make_array(b, dt)});
      Host want = zip(a, b, [&](double x, double y) { return reference(dt, x, y); });
      EXPECT_TRUE(close(r.compiled[0], want, chain_tol(dt))) << dt.name() << " n=" << n;
      EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0])) << dt.name() << " n=" << n;
    }
  }
}

TEST(CompileDtypes, ScalarConstantsAreRecordedForEveryFloatDtype) {
  // x * 0.75f + 0.125f: the scalars are C++ floats converted to x's dtype (on
  // the host); the fused program records both values.
  ArrayFunction fn = [](const std::vector<Array>& in) {
    return std::vector<Array>{exp(in[0] * 0.75f) + 0.125f};
  };
  uint64_t seed = 300;
  for (Dtype dt : float_dtypes) {
    auto cf = compile(fn);
    Host x = random_host({3, 129}, dt, seed++, -2, 2);
    Results r = run_both(fn, cf, {make_array(x, dt, Layout::strided)});
    EXPECT_TRUE(close(r.compiled[0], map(x, [](double v) { return std::exp(v * 0.75) + 0.125; }),
                      chain_tol(dt)))
        << dt.name();
    EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0])) << dt.name();
    EXPECT_EQ(cf.last_trace().scalar_values, 2u) << dt.name();
  }
}

TEST(CompileDtypes, ManyInputsRunOpByOpWithTheSameResult) {
  // 50 inputs is past what one generated kernel takes on cuda: the region
  // falls back to one kernel per op, silently and with the same values.
  constexpr int kInputs = 50;
  ArrayFunction fn = [](const std::vector<Array>& in) {
    Array s = in[0];
    for (size_t k = 1; k < in.size(); ++k) s = s + in[k] * static_cast<float>(k);
    return std::vector<Array>{s};
  };
  auto cf = compile(fn);
  std::vector<Host> hs;
  std::vector<Array> xs;
  for (int k = 0; k < kInputs; ++k) {
    hs.push_back(random_host({5, 33}, float32, 400 + k, -1, 1));
    xs.push_back(make_array(hs.back(), float32));
  }
  FusedKernelStats before = fused_kernel_stats();
  Results r = run_both(fn, cf, xs);
  FusedKernelStats after = fused_kernel_stats();
  Host want = hs[0];
  for (size_t i = 0; i < want.size(); ++i) {
    double s = hs[0][i];
    for (int k = 1; k < kInputs; ++k) s += hs[k][i] * k;
    want[i] = s;
  }
  EXPECT_TRUE(close(r.compiled[0], want, {1e-5, 1e-5}));
  EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]));
  EXPECT_EQ(cf.last_trace().fused_kernels, 1u);
  if (on_cuda()) {
    EXPECT_EQ(after.fallbacks, before.fallbacks + 1);
    EXPECT_EQ(after.launches, before.launches);
    EXPECT_NE(after.last_failure.find("inputs"), std::string::npos) << after.last_failure;
  }
}

}  // namespace
}  // namespace lathe::testing
