// Creation ops and bitcast against values computed independently in the test.
#include <cmath>
#include <cstring>

#include "support/harness.h"

namespace lathe::testing {
namespace {

TEST(Creation, FullZerosOnesEveryDtype) {
  for (Dtype dt : all_dtypes) {
    double v = dt == bool_ ? 1.0 : 3.0;
    Host want{{2, 3}, std::vector<double>(6, v)};
    EXPECT_TRUE(close(to_host(full({2, 3}, v, dt)), want, {0, 0})) << dt.name();
    EXPECT_TRUE(close(to_host(zeros({2, 3}, dt)), map(want, [](double) { return 0.0; }), {0, 0}));
    EXPECT_TRUE(close(to_host(ones({2, 3}, dt)), map(want, [](double) { return 1.0; }), {0, 0}));
    EXPECT_EQ(full({2, 3}, v, dt).dtype(), dt);
  }
  EXPECT_EQ(zeros({0, 5}).size(), 0u);
  EXPECT_TRUE(zeros({0, 5}).to_vector<float>().empty());
  EXPECT_THROW(zeros({2, -1}), Error);
}

TEST(Creation, FromHostDataConvertsOnce) {
  Array a = array<int32_t>({1, -2, 3, 4}, {2, 2});
  EXPECT_EQ(a.shape(), (Shape{2, 2}));
  EXPECT_EQ(a.to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3, 4}));
  EXPECT_EQ(array(std::vector<double>{0.1, 0.2}, {2}, bfloat16).to_vector<float>(),
            (std::vector<float>{float(bfloat16_t(0.1f)), float(bfloat16_t(0.2f))}));
  EXPECT_EQ(array<bool>({true, false}).to_vector<bool>(), (std::vector<bool>{true, false}));
  EXPECT_THROW(array<float>({1, 2, 3}, {2, 2}), Error);
}

TEST(Creation, ArangeAndLinspace) {
  EXPECT_EQ(arange(5).to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(2.0, -1.0, -1.0, int64).to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 0}));
  auto f = arange(0.0, 1.0, 0.25, float32).to_vector<float>();
  EXPECT_EQ(f, (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(arange(3.0, 3.0, 1.0).size(), 0u);
  EXPECT_THROW(arange(0.0, 1.0, 0.0), Error);
  auto l = linspace(-1.0, 1.0, 5, float64).to_vector<double>();
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(l[i], -1.0 + 0.5 * i);
  EXPECT_EQ(linspace(2.0, 3.0, 1).to_vector<float>(), (std::vector<float>{2.0f}));
  EXPECT_EQ(linspace(2.0, 3.0, 0).size(), 0u);
  EXPECT_THROW(linspace(0.0, 1.0, -3), Error);
}

TEST(Creation, EyeTriTrilTriu) {
  for (int64_t k : {-1, 0, 2}) {
    Host e{{3, 4}, {}}, t{{3, 4}, {}};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) {
        e.data.push_back(j == i + k);
        t.data.push_back(j <= i + k);
      }
    }
    EXPECT_TRUE(close(to_host(eye(3, 4, k)), e, {0, 0})) << k;
    EXPECT_TRUE(close(to_host(tri(3, 4, k)), t, {0, 0})) << k;
    Host x = random_host({2, 3, 4}, float32, 5 + k);
    Host lo = x, up = x;
    for (size_t n = 0; n < x.size(); ++n) {
      int64_t i = (n / 4) % 3, j = n % 4;
      if (j > i + k) lo[n] = 0;
      if (j < i + k) up[n] = 0;
    }
    EXPECT_TRUE(close(to_host(tril(make_array(x, float32), k)), lo, {0, 0})) << k;
    EXPECT_TRUE(close(to_host(triu(make_array(x, float32, Layout::transposed), k)), up, {0, 0}))
        << k;
  }
  EXPECT_EQ(eye(2).dtype(), float32);
  EXPECT_THROW(tril(ones({3})), Error);
}

TEST(Creation, BitcastReinterpretsBytes) {
  std::vector<float> v = {1.0f, -2.5f, 0.15625f};
  auto u = bitcast(array(v), uint32).to_vector<uint32_t>();
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    EXPECT_EQ(u[i], bits);
  }
  // Wider to narrower scales the last axis; a transposed input is read row-major.
  Array w = array<uint32_t>({0x04030201u, 0x08070605u}, {1, 2});
  EXPECT_EQ(bitcast(w, uint8).shape(), (Shape{1, 8}));
  EXPECT_EQ(bitcast(w, uint8).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  Array t = transpose(array<uint8_t>({1, 3, 2, 4}, {2, 2}));  // logical [[1,2],[3,4]]
  EXPECT_EQ(bitcast(t, bfloat16).to_vector<float>().size(), 2u);
  EXPECT_EQ(bitcast(bitcast(t, bfloat16), uint8).to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_THROW(bitcast(ones({3}, uint8), float32), Error);
}

}  // namespace
}  // namespace lathe::testing
