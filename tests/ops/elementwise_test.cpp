// Elementwise ops against float64 references, every float dtype and layout.
#include <cmath>

#include "support/harness.h"

namespace lathe::testing {
namespace {

struct UnaryCase {
  const char* name;
  Array (*op)(const Array&);
  double (*ref)(double);
  double lo, hi;
};

double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_silu(double x) { return x / (1.0 + std::exp(-x)); }
double ref_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double ref_gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

const UnaryCase unary_cases[] = {
    {"negative", negative, [](double x) { return -x; }, -3, 3},
    {"abs", abs, [](double x) { return std::abs(x); }, -3, 3},
    {"square", square, [](double x) { return x * x; }, -3, 3},
    {"sqrt", sqrt, [](double x) { return std::sqrt(x); }, 0.01, 5},
    {"rsqrt", rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.1, 5},
    {"reciprocal", reciprocal, [](double x) { return 1 / x; }, 0.5, 5},
    {"exp", exp, [](double x) { return std::exp(x); }, -4, 4},
    {"expm1", expm1, [](double x) { return std::expm1(x); }, -1, 1},
    {"log", log, [](double x) { return std::log(x); }, 0.1, 10},
    {"log1p", log1p, [](double x) { return std::log1p(x); }, -0.5, 4},
    {"sin", sin, [](double x) { return std::sin(x); }, -3, 3},
    {"cos", cos, [](double x) { return std::cos(x); }, -3, 3},
    {"tanh", tanh, [](double x) { return std::tanh(x); }, -3, 3},
    {"erf", erf, [](double x) { return std::erf(x); }, -2, 2},
    {"sigmoid", sigmoid, ref_sigmoid, -6, 6},
    {"silu", silu, ref_silu, -6, 6},
    {"relu", relu, [](double x) { return x > 0 ? x : 0; }, -3, 3},
    {"gelu", gelu, ref_gelu, -4, 4},
    {"gelu_tanh", gelu_tanh, ref_gelu_tanh, -4, 4},
    {"floor", floor, [](double x) { return std::floor(x); }, -5, 5},
    {"ceil", ceil, [](double x) { return std::ceil(x); }, -5, 5},
    {"round", round, [](double x) { return std::nearbyint(x); }, -5, 5},
    {"sign", sign, [](double x) { return double((x > 0) - (x < 0)); }, -3, 3},
};

TEST(Elementwise, UnaryMatchesFloat64Reference) {
  uint64_t seed = 1;
  for (const auto& c : unary_cases) {
    for (Dtype dt : float_dtypes) {
      for (Layout layout : all_layouts) {
        Host x = random_host({3, 5, 6}, dt, seed++, c.lo, c.hi);
        Array y = c.op(make_array(x, dt, layout));
        EXPECT_EQ(y.dtype(), dt);
        // The reference sees the exact inputs; the result is rounded to dt once.
        Host want = round_to(map(x, c.ref), dt);
        Tol tol = default_tol(dt);
        tol.rtol *= 4;
        tol.atol *= 4;
        EXPECT_TRUE(close(to_host(y), want, tol))
            << c.name << " " << dt.name() << " " << layout_name(layout);
      }
    }
  }
}

struct BinaryCase {
  const char* name;
  Array (*op)(const Array&, const Array&);
  double (*ref)(double, double);
  double lo, hi;
  bool ints;
};

double py_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

const BinaryCase binary_cases[] = {
    {"add", add, [](double a, double b) { return a + b; }, -5, 5, true},
    {"subtract", subtract, [](double a, double b) { return a - b; }, -5, 5, true},
    {"multiply", multiply, [](double a, double b) { return a * b; }, -5, 5, true},
    {"divide", divide, [](double a, double b) { return a / b; }, 0.5, 5, false},
    {"power", power, [](double a, double b) { return std::pow(a, b); }, 0.5, 2, false},
    {"maximum", maximum, [](double a, double b) { return std::max(a, b); }, -5, 5, true},
    {"minimum", minimum, [](double a, double b) { return std::min(a, b); }, -5, 5, true},
    {"floor_divide", floor_divide, [](double a, double b) { return std::floor(a / b); }, 1, 9,
     true},
    {"remainder", remainder, py_mod, 1, 9, true},
    {"arctan2", arctan2, [](double a, double b) { return std::atan2(a, b); }, -3, 3, false},
};

TEST(Elementwise, BinaryBroadcastsAndMatchesReference) {
  uint64_t seed = 100;
  const std::pair<Shape, Shape> shapes[] = {
      {{4, 6}, {4, 6}}, {{4, 6}, {6}}, {{4, 1}, {1, 6}}, {{2, 4, 6}, {}}, {{}, {4, 6}}};
  for (const auto& c : binary_cases) {
    std::vector<Dtype> dts(std::begin(float_dtypes), std::end(float_dtypes));
    if (c.ints) dts.insert(dts.end(), {int32, int64, uint8});
    for (Dtype dt : dts) {
      for (const auto& [sa, sb] : shapes) {
        for (Layout layout : all_layouts) {
          if (sa.size() < 2 && layout != Layout::contiguous) continue;
          Host a = random_host(sa, dt, seed++, c.lo, c.hi);
          Host b = random_host(sb, dt, seed++, c.lo, c.hi);
          Array y = c.op(make_array(a, dt, layout), make_array(b, dt));
          Host want = round_to(zip(a, b, c.ref), y.dtype());
          Tol tol = default_tol(y.dtype());
          tol.rtol *= 2;
          EXPECT_TRUE(close(to_host(y), want, tol))
              << c.name << " " << dt.name() << " " << shape_str(sa) << " with " << shape_str(sb)
              << " " << layout_name(layout);
        }
      }
    }
  }
}

TEST(Elementwise, LongDenseRowsWithTailsAndMisalignedViews) {
  // Dense operands take 16-byte packs on the GPU with a scalar tail (1027 is no multiple of any
  // pack); a view one element in is misaligned and takes the strided loop. Both against float64.
  for (Dtype dt : {float32, bfloat16, float16, float64, int32}) {
    const bool fl = dt.is_floating();
    Host a = random_host({1028}, dt, 21, fl ? -3 : -100, fl ? 3 : 100);
    Host b = random_host({1028}, dt, 22, fl ? -3 : -100, fl ? 3 : 100);
    Array x = make_array(a, dt), y = make_array(b, dt);
    for (int64_t start : {0, 1}) {
      Array xs = slice(x, {start}, {start + 1027}), ys = slice(y, {start}, {start + 1027});
      Host ha{{1027}, std::vector<double>(a.data.begin() + start, a.data.begin() + start + 1027)};
      Host hb{{1027}, std::vector<double>(b.data.begin() + start, b.data.begin() + start + 1027)};
      const Tol tol = default_tol(dt);
      EXPECT_TRUE(close(to_host(negative(xs)), map(ha, [](double v) { return -v; }), {0, 0}))
          << dt.name() << " start " << start;
      EXPECT_TRUE(close(to_host(add(xs, ys)),
                        round_to(zip(ha, hb, [](double p, double q) { return p + q; }), dt), tol))
          << dt.name() << " start " << start;
      EXPECT_TRUE(close(to_host(multiply(xs, ys)),
                        round_to(zip(ha, hb, [](double p, double q) { return p * q; }), dt), tol))
          << dt.name() << " start " << start;
      if (fl) {
        EXPECT_TRUE(close(to_host(exp(xs)), round_to(map(ha, [](double v) { return std::exp(v); }), dt),
                          tol))
            << dt.name() << " start " << start;
      }
    }
  }
}

TEST(Elementwise, ComparisonsAndLogic) {
  Host a = random_host({5, 7}, float32, 7, -2, 2);
  Host b = random_host({7}, float32, 8, -2, 2);
  Array x = make_array(a, float32, Layout::transposed), y = make_array(b, float32);
  EXPECT_EQ(less(x, y).dtype(), bool_);
  EXPECT_TRUE(close(to_host(less(x, y)),
                    zip(a, b, [](double p, double q) { return double(p < q); }), {0, 0}));
  EXPECT_TRUE(close(to_host(greater_equal(x, y)),
                    zip(a, b, [](double p, double q) { return double(p >= q); }), {0, 0}));
  EXPECT_TRUE(close(to_host(logical_and(x > 0.0f, y > 0.0f)),
                    zip(a, b, [](double p, double q) { return double(p > 0 && q > 0); }), {0, 0}));
  EXPECT_TRUE(close(to_host(where(x > y, x, y)),
                    zip(a, b, [](double p, double q) { return std::max(p, q); }), {0, 0}));
}

TEST(Elementwise, TypePromotionAndWeakScalars) {
  Array h = ones({2}, bfloat16);
  EXPECT_EQ((h * 2.0f).dtype(), bfloat16);
  EXPECT_EQ((h + ones({2}, float32)).dtype(), float32);
  EXPECT_EQ((ones({2}, int32) * 1.5f).dtype(), float32);
  EXPECT_EQ((ones({2}, int32) + 1).dtype(), int32);
  EXPECT_EQ((ones({2}, uint8) + ones({2}, int8)).dtype(), int32);
  EXPECT_EQ(divide(ones({2}, int32), ones({2}, int32)).dtype(), float32);
  EXPECT_EQ(exp(ones({2}, int32)).dtype(), float32);
  EXPECT_FLOAT_EQ((ones({2}, int32) * 1.5f).to_vector<float>()[1], 1.5f);
}

TEST(Elementwise, IntegerSemanticsMatchPython) {
  Array a = array<int32_t>({-7, 7, -7, 7}), b = array<int32_t>({2, 2, -2, -2});
  EXPECT_EQ(floor_divide(a, b).to_vector<int32_t>(), (std::vector<int32_t>{-4, 3, 3, -4}));
  EXPECT_EQ(remainder(a, b).to_vector<int32_t>(), (std::vector<int32_t>{1, 1, -1, -1}));
  EXPECT_EQ(power(array<int32_t>({3, 2}), array<int32_t>({4, 10})).to_vector<int32_t>(),
            (std::vector<int32_t>{81, 1024}));
  Array u = array<uint32_t>({0xF0F0F0F0u, 1u});
  EXPECT_EQ((u >> 4).to_vector<uint32_t>(), (std::vector<uint32_t>{0x0F0F0F0Fu, 0u}));
  EXPECT_EQ((u & 0xFF).to_vector<uint32_t>(), (std::vector<uint32_t>{0xF0u, 1u}));
  EXPECT_EQ((u << 1).to_vector<uint32_t>(), (std::vector<uint32_t>{0xE1E1E1E0u, 2u}));
}

TEST(Elementwise, AsTypeRoundsLikeTheReference) {
  Host x = random_host({64}, float64, 3, -100, 100);
  for (Dtype dt : {float16, bfloat16, float32}) {
    EXPECT_TRUE(close(to_host(astype(make_array(x, float64), dt)), round_to(x, dt), {0, 0}))
        << dt.name();
  }
  // Float to int truncates toward zero.
  EXPECT_EQ(astype(array<float>({-1.7f, 1.7f, 2.5f}), int32).to_vector<int32_t>(),
            (std::vector<int32_t>{-1, 1, 2}));
  // float16 edge cases: max, overflow to inf, smallest subnormal.
  EXPECT_EQ(
      astype(array<float>({65504.f, 65520.f, 5.960464477539063e-08f}), float16).to_vector<float>(),
      (std::vector<float>{65504.f, INFINITY, 5.960464477539063e-08f}));
}

TEST(Elementwise, BadInputNamesTheOp) {
  try {
    add(ones({2, 3}), ones({4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[add]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(2, 3)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(bitwise_and(ones({2}), ones({2})), Error);
  EXPECT_THROW(negative(ones({2}, bool_)), Error);
}

}  // namespace
}  // namespace lathe::testing
