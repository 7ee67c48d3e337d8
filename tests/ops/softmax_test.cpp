// softmax against a float64 reference: every float dtype, layouts, single and
// multiple axes, stability with large inputs, integer promotion.
#include <cmath>

#include "ops/reduce_reference.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

// softmax over `axes`, computed by grouping elements like a reduction.
Host reference_softmax(const Host& x, const std::vector<int>& axes) {
  Host m = reference_reduce(x, axes, true, [](const std::vector<double>& v) {
    double r = -INFINITY;
    for (double e : v) r = std::max(r, e);
    return r;
  });
  Host e = zip(x, m, [](double a, double b) { return std::exp(a - b); });
  Host s = reference_reduce(e, axes, true, [](const std::vector<double>& v) {
    double r = 0;
    for (double q : v) r += q;
    return r;
  });
  return zip(e, s, [](double a, double b) { return a / b; });
}

Tol softmax_tol(Dtype d) {
  if (d == float64) return {1e-12, 1e-14};
  if (d == float32) return {1e-5, 1e-7};
  return default_tol(d);
}

TEST(Softmax, MatchesReferenceEveryDtypeLayoutAndAxes) {
  const std::vector<std::vector<int>> axis_sets = {{-1}, {0}, {1}, {0, 2}, {}, {2, 1}};
  uint64_t seed = 1;
  for (Dtype dt : float_dtypes) {
    for (const Shape& shape : {Shape{3, 4, 5}, Shape{2, 3, 40}}) {
      for (const auto& axes : axis_sets) {
        for (Layout layout : all_layouts) {
          for (bool precise : {false, true}) {
            Host x = random_host(shape, dt, seed++, -6, 6);
            Array y = softmax(make_array(x, dt, layout), axes, precise);
            EXPECT_EQ(y.dtype(), dt);
            EXPECT_EQ(y.shape(), shape);
            // One rounding to dt of the float32 result.
            Host want = round_to(reference_softmax(x, axes), dt);
            EXPECT_TRUE(close(to_host(y), want, softmax_tol(dt)))
                << dt.name() << " " << shape_str(shape) << " axes " << axes_str(axes) << " "
                << layout_name(layout);
          }
        }
      }
    }
  }
}

TEST(Softmax, VocabularySizedRowsAndOverloads) {
  for (Dtype dt : {float32, bfloat16, float16}) {
    Host x = random_host({2, 131072}, dt, 42, -10, 10);
    Array a = make_array(x, dt);
    Host want = round_to(reference_softmax(x, {-1}), dt);
    Tol tol = softmax_tol(dt);
    tol.atol = dt == float32 ? 1e-9 : tol.atol;
    EXPECT_TRUE(close(to_host(softmax(a)), want, tol)) << dt.name();
    EXPECT_TRUE(close(to_host(softmax(a, -1, true)), want, tol)) << dt.name();
  }
}

TEST(Softmax, StableForLargeInputsAndPromotesIntegers) {
  auto v = softmax(array<float>({1000.0f, 1001.0f, 1002.0f})).to_vector<float>();
  double z = std::exp(-2.0) + std::exp(-1.0) + 1.0;
  EXPECT_NEAR(v[0], std::exp(-2.0) / z, 1e-6);
  EXPECT_NEAR(v[2], 1.0 / z, 1e-6);
  auto n = softmax(array<float>({-1000.0f, 0.0f})).to_vector<float>();
  EXPECT_EQ(n[0], 0.0f);
  EXPECT_EQ(n[1], 1.0f);
  // -inf entries (masked logits) get exactly zero.
  auto m = softmax(array<float>({-INFINITY, 1.0f, 1.0f})).to_vector<float>();
  EXPECT_EQ(m[0], 0.0f);
  EXPECT_FLOAT_EQ(m[1], 0.5f);
  Array i = softmax(array<int32_t>({1, 2, 3}));
  EXPECT_EQ(i.dtype(), float32);
  EXPECT_NEAR(i.to_vector<float>()[2], 1.0 / z, 1e-6);
  EXPECT_FLOAT_EQ(softmax(Array(3.0f), {}).item<float>(), 1.0f);
  EXPECT_EQ(softmax(zeros({0, 4})).shape(), (Shape{0, 4}));
}

TEST(Softmax, BadAxesNameTheOp) {
  for (auto f : {+[] {
                   softmax(ones({2, 3}), 2);
                 },
                 +[] {
                   softmax(ones({2, 3}), {0, -2});
                 },
                 +[] { softmax(Array(1.0f)); }}) {
    try {
      f();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[softmax]", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace lathe::testing
