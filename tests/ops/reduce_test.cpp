// Reductions (sum, prod, mean, var, max, min, logsumexp, all, any) against
// float64 / int64 reference loops, every dtype, layout and several axis sets.
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "ops/reduce_reference.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

using Fold = std::function<double(const std::vector<double>&)>;

double ref_sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
double ref_prod(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 1.0, std::multiplies<>());
}
double ref_mean(const std::vector<double>& v) { return ref_sum(v) / v.size(); }
double ref_var(const std::vector<double>& v, int ddof) {
  double m = ref_mean(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / (static_cast<double>(v.size()) - ddof);
}
double ref_max(const std::vector<double>& v) {
  double m = -INFINITY;
  for (double x : v) {
    if (std::isnan(x)) return NAN;
    m = std::max(m, x);
  }
  return m;
}
double ref_min(const std::vector<double>& v) {
  double m = INFINITY;
  for (double x : v) {
    if (std::isnan(x)) return NAN;
    m = std::min(m, x);
  }
  return m;
}
double ref_logsumexp(const std::vector<double>& v) {
  double m = ref_max(v), s = 0;
  if (!std::isfinite(m)) return m;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

// Integers accumulate exactly in int64 and wrap to the result dtype, as the kernel's
// accumulator does.
double wrap_to(Dtype d, int64_t v) {
  if (d == int32) return static_cast<int32_t>(static_cast<uint32_t>(v));
  if (d == uint32) return static_cast<uint32_t>(v);
  return static_cast<double>(v);
}

struct ReduceCase {
  const char* name;
  std::function<Array(const Array&, const std::vector<int>&, bool)> op;
  Fold ref;
  double lo, hi;
};

const std::vector<ReduceCase>& float_cases() {
  static const std::vector<ReduceCase> cases = {
      {"sum", [](const Array& a, const std::vector<int>& ax, bool k) { return sum(a, ax, k); },
       ref_sum, -2, 2},
      {"prod", [](const Array& a, const std::vector<int>& ax, bool k) { return prod(a, ax, k); },
       ref_prod, 0.7, 1.3},
      {"mean", [](const Array& a, const std::vector<int>& ax, bool k) { return mean(a, ax, k); },
       ref_mean, -2, 2},
      {"var", [](const Array& a, const std::vector<int>& ax, bool k) { return var(a, ax, k); },
       [](const std::vector<double>& v) { return ref_var(v, 0); }, -2, 2},
      {"var_ddof1",
       [](const Array& a, const std::vector<int>& ax, bool k) { return var(a, ax, k, 1); },
       [](const std::vector<double>& v) { return ref_var(v, 1); }, -2, 2},
      {"max", [](const Array& a, const std::vector<int>& ax, bool k) { return max(a, ax, k); },
       ref_max, -2, 2},
      {"min", [](const Array& a, const std::vector<int>& ax, bool k) { return min(a, ax, k); },
       ref_min, -2, 2},
      {"logsumexp",
       [](const Array& a, const std::vector<int>& ax, bool k) { return logsumexp(a, ax, k); },
       ref_logsumexp, -4, 4},
  };
  return cases;
}

// Accumulation in float32 (float64 for float64) leaves cancellation error
// relative to the sum of magnitudes, hence the absolute terms.
Tol reduce_tol(Dtype d) {
  if (d == float64) return {1e-10, 1e-10};
  if (d == float32) return {1e-5, 2e-5};
  if (d == float16) return {3e-3, 3e-3};
  if (d == bfloat16) return {2e-2, 2e-2};
  return {0, 0};
}

const Shape shapes[] = {{3, 4, 5}, {2, 3, 37}, {4, 50}};
const std::vector<std::vector<int>> axis_sets_3d = {{}, {0}, {1}, {-1}, {0, 2}, {-1, -3}, {1, 2}};
const std::vector<std::vector<int>> axis_sets_2d = {{}, {0}, {-1}, {0, 1}};

TEST(Reduce, FloatReductionsMatchFloat64Reference) {
  uint64_t seed = 1;
  for (const auto& c : float_cases()) {
    for (Dtype dt : float_dtypes) {
      for (const Shape& shape : shapes) {
        const auto& sets = shape.size() == 3 ? axis_sets_3d : axis_sets_2d;
        for (const auto& axes : sets) {
          for (Layout layout : all_layouts) {
            for (bool keepdims : {false, true}) {
              Host x = random_host(shape, dt, seed++, c.lo, c.hi);
              Array y = c.op(make_array(x, dt, layout), axes, keepdims);
              EXPECT_EQ(y.dtype(), dt) << c.name;
              Host want = reference_reduce(x, axes, keepdims, c.ref);
              EXPECT_TRUE(close(to_host(y), want, reduce_tol(dt)))
                  << c.name << " " << dt.name() << " " << shape_str(shape) << " axes "
                  << axes_str(axes) << " keepdims " << keepdims << " " << layout_name(layout);
            }
          }
        }
      }
    }
  }
}

TEST(Reduce, IntegerReductionsAreExactAndPromote) {
  struct IntCase {
    const char* name;
    std::function<Array(const Array&, const std::vector<int>&, bool)> op;
    std::function<int64_t(const std::vector<double>&)> ref;
    bool promotes;  // result dtype follows sum's rule rather than the input's
  };
  const IntCase cases[] = {
      {"sum", [](const Array& a, const std::vector<int>& ax, bool k) { return sum(a, ax, k); },
       [](const std::vector<double>& v) {
         int64_t s = 0;
         for (double x : v) s += static_cast<int64_t>(x);
         return s;
       },
       true},
      {"prod", [](const Array& a, const std::vector<int>& ax, bool k) { return prod(a, ax, k); },
       [](const std::vector<double>& v) {
         int64_t s = 1;
         for (double x : v) s *= static_cast<int64_t>(x);
         return s;
       },
       true},
      {"max", [](const Array& a, const std::vector<int>& ax, bool k) { return max(a, ax, k); },
       [](const std::vector<double>& v) { return static_cast<int64_t>(ref_max(v)); }, false},
      {"min", [](const Array& a, const std::vector<int>& ax, bool k) { return min(a, ax, k); },
       [](const std::vector<double>& v) { return static_cast<int64_t>(ref_min(v)); }, false},
  };
  std::vector<Dtype> dts(std::begin(int_dtypes), std::end(int_dtypes));
  dts.push_back(bool_);
  uint64_t seed = 500;
  for (const auto& c : cases) {
    for (Dtype dt : dts) {
      Dtype want_dt = dt;
      if (c.promotes && (dt == bool_ || dt == int8 || dt == uint8 || dt == int32)) want_dt = int32;
      for (const auto& axes : axis_sets_3d) {
        for (Layout layout : all_layouts) {
          bool is_prod = std::string(c.name) == "prod";
          Host x = random_host({3, 4, 5}, dt, seed++, is_prod ? -1 : -100, is_prod ? 2 : 100);
          Array y = c.op(make_array(x, dt, layout), axes, false);
          EXPECT_EQ(y.dtype(), want_dt) << c.name << " " << dt.name();
          Host want = reference_reduce(x, axes, false, [&](const std::vector<double>& v) {
            return wrap_to(want_dt, c.ref(v));
          });
          EXPECT_TRUE(close(to_host(y), want, {0, 0}))
              << c.name << " " << dt.name() << " axes " << axes_str(axes) << " "
              << layout_name(layout);
        }
      }
    }
  }
}

TEST(Reduce, IntegerMeanVarLogsumexpGiveFloat32) {
  for (Dtype dt : {int32, uint8, int64, bool_}) {
    Host x = random_host({4, 6}, dt, 900, 0, 9);
    Array a = make_array(x, dt);
    EXPECT_EQ(mean(a).dtype(), float32);
    EXPECT_EQ(var(a, 1).dtype(), float32);
    EXPECT_EQ(logsumexp(a, 0).dtype(), float32);
    EXPECT_TRUE(
        close(to_host(mean(a, 1)), reference_reduce(x, {1}, false, ref_mean), {1e-6, 1e-6}));
    EXPECT_TRUE(close(to_host(var(a, 0, true)),
                      reference_reduce(x, {0}, true, [](const auto& v) { return ref_var(v, 0); }),
                      {1e-5, 1e-5}));
    EXPECT_TRUE(
        close(to_host(logsumexp(a)), reference_reduce(x, {}, false, ref_logsumexp), {1e-6, 1e-6}));
  }
}

TEST(Reduce, LongContiguousRowsUseTheFastPathCorrectly) {
  // Lengths around the 8-lane unrolling and its remainder, plus a vocabulary-sized row.
  uint64_t seed = 1000;
  for (int64_t n : {15, 16, 17, 23, 64, 1001, 131072}) {
    for (Dtype dt : {float32, bfloat16}) {
      Host x = random_host({2, n}, dt, seed++, -3, 3);
      Array a = make_array(x, dt);
      Tol tol = reduce_tol(dt);
      tol.atol *= n > 1000 ? 10 : 1;
      EXPECT_TRUE(close(to_host(sum(a, -1)), reference_reduce(x, {-1}, false, ref_sum), tol)) << n;
      EXPECT_TRUE(close(to_host(max(a, -1)), reference_reduce(x, {-1}, false, ref_max), {0, 0}));
      EXPECT_TRUE(close(to_host(min(a, -1)), reference_reduce(x, {-1}, false, ref_min), {0, 0}));
      EXPECT_TRUE(close(to_host(logsumexp(a, -1)), reference_reduce(x, {-1}, false, ref_logsumexp),
                        reduce_tol(dt)));
    }
  }
}

TEST(Reduce, AllAndAny) {
  std::vector<Dtype> dts = {bool_, int32, uint8, float32, bfloat16};
  uint64_t seed = 2000;
  for (Dtype dt : dts) {
    for (const auto& axes : axis_sets_3d) {
      for (Layout layout : all_layouts) {
        // Mostly non-zero values so that `all` is sometimes true.
        Host x = random_host({3, 4, 5}, dt, seed++, 0, 6);
        for (auto& v : x.data) {
          if (dt != bool_ && v < 1) v = 0;
        }
        Array a = make_array(x, dt, layout);
        auto all_ref = [](const std::vector<double>& v) {
          for (double e : v) {
            if (e == 0) return 0.0;
          }
          return 1.0;
        };
        auto any_ref = [](const std::vector<double>& v) {
          for (double e : v) {
            if (e != 0) return 1.0;
          }
          return 0.0;
        };
        Array y = all(a, axes, true);
        EXPECT_EQ(y.dtype(), bool_);
        EXPECT_TRUE(close(to_host(y), reference_reduce(x, axes, true, all_ref), {0, 0}))
            << dt.name() << " " << axes_str(axes) << " " << layout_name(layout);
        EXPECT_TRUE(close(to_host(any(a, axes)), reference_reduce(x, axes, false, any_ref), {0, 0}))
            << dt.name() << " " << axes_str(axes) << " " << layout_name(layout);
      }
    }
  }
}

TEST(Reduce, OverloadsAndKeepdimsShapes) {
  Array a = ones({2, 3, 4});
  EXPECT_EQ(sum(a).shape(), Shape{});
  EXPECT_EQ(sum(a, {}).shape(), Shape{});  // empty braces: every axis, not axis 0
  EXPECT_EQ(sum(a, 1).shape(), (Shape{2, 4}));
  EXPECT_EQ(sum(a, -1, true).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(mean(a, {0, 2}, true).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(max(a, {2, 0}).shape(), (Shape{3}));
  EXPECT_EQ(var(a, 1, false, 1).shape(), (Shape{2, 4}));
  EXPECT_EQ(logsumexp(a, size_t{0}).shape(), (Shape{3, 4}));
  EXPECT_EQ(all(a, 2).shape(), (Shape{2, 3}));
  EXPECT_FLOAT_EQ(sum(a).item<float>(), 24.0f);
  EXPECT_FLOAT_EQ(sum(a, 1).to_vector<float>()[0], 3.0f);
  // A 0-d array reduces over no axes.
  EXPECT_FLOAT_EQ(sum(Array(2.5f)).item<float>(), 2.5f);
  EXPECT_FLOAT_EQ(max(Array(2.5f)).item<float>(), 2.5f);
}

TEST(Reduce, EmptyAxes) {
  Array e = zeros({0, 3});
  EXPECT_EQ(sum(e, 0).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(prod(e, 0).to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(sum(e).item<float>(), 0.0f);
  EXPECT_TRUE(std::isnan(mean(e).item<float>()));
  EXPECT_EQ(logsumexp(e, 0).to_vector<float>()[0], -INFINITY);
  EXPECT_TRUE(all(e).item<bool>());
  EXPECT_FALSE(any(e).item<bool>());
  // Nothing to reduce into: fine.
  EXPECT_EQ(max(e, 1).shape(), Shape{0});
  EXPECT_EQ(to_host(max(e, 1)).size(), 0u);
  for (auto f :
       {+[](const Array& a) { return max(a, 0); }, +[](const Array& a) { return min(a); }}) {
    try {
      f(e);
      FAIL() << "no error";
    } catch (const Error& err) {
      std::string msg = err.what();
      EXPECT_TRUE(msg.find("[max]") != std::string::npos || msg.find("[min]") != std::string::npos)
          << msg;
      EXPECT_NE(msg.find("(0, 3)"), std::string::npos) << msg;
    }
  }
}

TEST(Reduce, NanPropagates) {
  Array a = array<float>({1, NAN, 3, 4, 5, 6}, {2, 3});
  auto v = max(a, 1).to_vector<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 6.0f);
  EXPECT_TRUE(std::isnan(min(a, 1).to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(sum(a, 1).to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(logsumexp(a, 1).to_vector<float>()[0]));
  // The NaN also survives the 8-lane path.
  std::vector<float> big(100, 1.0f);
  big[41] = NAN;
  EXPECT_TRUE(std::isnan(max(array(big)).item<float>()));
  EXPECT_TRUE(std::isnan(min(array(big)).item<float>()));
  // Infinities in logsumexp.
  EXPECT_EQ(logsumexp(array<float>({-INFINITY, -INFINITY})).item<float>(), -INFINITY);
  EXPECT_EQ(logsumexp(array<float>({1.0f, INFINITY})).item<float>(), INFINITY);
  EXPECT_NEAR(logsumexp(array<float>({1000.0f, 1000.0f})).item<float>(), 1000.0f + std::log(2.0f),
              1e-3);
}

void expect_error(const std::function<void()>& f, const std::string& op, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "no error for " << op;
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("[" + op + "]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(Reduce, BadAxesNameTheOp) {
  Array a = ones({2, 3});
  expect_error([&] { sum(a, 2); }, "sum", "axis 2");
  expect_error([&] { mean(a, {-3}); }, "mean", "axis -3");
  expect_error([&] { max(a, {0, -2}); }, "max", "repeated axis -2");
  expect_error([&] { var(a, {1, 1}); }, "var", "repeated axis 1");
  expect_error([&] { var(a, 0, false, -1); }, "var", "ddof");
  expect_error([&] { logsumexp(a, 5); }, "logsumexp", "axis 5");
  expect_error([&] { all(a, {0, 0}); }, "all", "repeated");
  expect_error([&] { prod(Array(1.0f), 0); }, "prod", "axis 0");
}

}  // namespace
}  // namespace lathe::testing
