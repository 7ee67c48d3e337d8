// cumsum / cumprod / cummax / cummin against reference loops: every dtype,
// layout, axis, reverse and exclusive forms.
#include <cmath>

#include "ops/reduce_reference.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

enum class Kind { sum, prod, max, min };

Array run(Kind k, const Array& a, int axis, bool reverse, bool inclusive) {
  switch (k) {
    case Kind::sum: return cumsum(a, axis, reverse, inclusive);
    case Kind::prod: return cumprod(a, axis, reverse, inclusive);
    case Kind::max: return cummax(a, axis, reverse, inclusive);
    case Kind::min: return cummin(a, axis, reverse, inclusive);
  }
  return a;
}

const char* kind_name(Kind k) {
  static const char* names[] = {"cumsum", "cumprod", "cummax", "cummin"};
  return names[static_cast<int>(k)];
}

// Reference in float64 (integers stay exact); exclusive results start at the
// identity, which for max/min of integers is the dtype's extreme.
Host reference_scan(Kind k, const Host& x, int axis, bool reverse, bool inclusive, Dtype dt) {
  double lo = -INFINITY, hi = INFINITY;
  if (dt == int32) lo = -2147483648.0, hi = 2147483647.0;
  if (dt == int8) lo = -128, hi = 127;
  if (dt == uint8) lo = 0, hi = 255;
  if (dt == uint32) lo = 0, hi = 4294967295.0;
  if (dt == int64) lo = -9223372036854775808.0, hi = 9223372036854775807.0;
  if (dt == bool_) lo = 0, hi = 1;
  Host r = x;
  reference_lines(x.shape, axis, [&](const std::vector<size_t>& idx) {
    double acc = k == Kind::sum ? 0 : k == Kind::prod ? 1 : k == Kind::max ? lo : hi;
    size_t n = idx.size();
    for (size_t j = 0; j < n; ++j) {
      size_t i = idx[reverse ? n - 1 - j : j];
      double v = x[i];
      double next = acc;
      switch (k) {
        case Kind::sum: next = acc + v; break;
        case Kind::prod: next = acc * v; break;
        case Kind::max: next = std::isnan(acc) || std::isnan(v) ? NAN : std::max(acc, v); break;
        case Kind::min: next = std::isnan(acc) || std::isnan(v) ? NAN : std::min(acc, v); break;
      }
      r[i] = inclusive ? next : acc;
      acc = next;
    }
  });
  return r;
}

TEST(Scan, MatchesReferenceEveryDtypeLayoutAndDirection) {
  std::vector<Dtype> dts(std::begin(float_dtypes), std::end(float_dtypes));
  dts.insert(dts.end(), std::begin(int_dtypes), std::end(int_dtypes));
  dts.push_back(bool_);
  uint64_t seed = 1;
  for (Kind k : {Kind::sum, Kind::prod, Kind::max, Kind::min}) {
    for (Dtype dt : dts) {
      for (int axis : {0, 1, -1}) {
        for (Layout layout : all_layouts) {
          for (bool reverse : {false, true}) {
            for (bool inclusive : {true, false}) {
              bool prod = k == Kind::prod;
              Host x = random_host({3, 4, 5}, dt, seed++, prod ? 0.6 : -3, prod ? 1.4 : 3);
              if (prod && !dt.is_floating()) x = random_host({3, 4, 5}, dt, seed, -1, 2);
              Array y = run(k, make_array(x, dt, layout), axis, reverse, inclusive);
              Dtype want_dt = dt;
              if ((k == Kind::sum || k == Kind::prod) &&
                  (dt == bool_ || dt == int8 || dt == uint8)) {
                want_dt = int32;
              }
              EXPECT_EQ(y.dtype(), want_dt) << kind_name(k) << " " << dt.name();
              Host want = reference_scan(k, x, axis, reverse, inclusive, want_dt);
              // The float reference is not rounded between steps; the kernel rounds
              // only at each output.
              Tol tol = default_tol(dt);
              tol.rtol *= 4;
              tol.atol *= 4;
              if (dt == float32) tol = {1e-5, 1e-5};
              EXPECT_TRUE(close(to_host(y), want, tol))
                  << kind_name(k) << " " << dt.name() << " axis " << axis << " "
                  << layout_name(layout) << " reverse " << reverse << " inclusive " << inclusive;
            }
          }
        }
      }
    }
  }
}

TEST(Scan, KnownValuesAndNan) {
  Array a = array<int32_t>({1, 2, 3, 4});
  EXPECT_EQ(cumsum(a, 0).to_vector<int32_t>(), (std::vector<int32_t>{1, 3, 6, 10}));
  EXPECT_EQ(cumsum(a, 0, true).to_vector<int32_t>(), (std::vector<int32_t>{10, 9, 7, 4}));
  EXPECT_EQ(cumsum(a, 0, false, false).to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 3, 6}));
  EXPECT_EQ(cumprod(a, 0, true, false).to_vector<int32_t>(), (std::vector<int32_t>{24, 12, 4, 1}));
  Array f = array<float>({1, NAN, 3});
  auto m = cummax(f, 0).to_vector<float>();
  EXPECT_EQ(m[0], 1.0f);
  EXPECT_TRUE(std::isnan(m[1]) && std::isnan(m[2]));
}

TEST(Scan, BadAxisNamesTheOp) {
  for (auto f : {+[] {
                   cumsum(ones({2, 3}), 2);
                 },
                 +[] { cumprod(ones({2}), -2); }, +[] { cummax(Array(1.0f), 0); }}) {
    try {
      f();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_TRUE(msg.rfind("[cum", 0) == 0) << msg;
      EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace lathe::testing
