// argmax / argmin against reference loops: first occurrence of the extreme,
// NaN wins, every dtype and layout, single axis and flattened.
#include <cmath>

#include "ops/reduce_reference.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

// Index of the first extreme; the first NaN if there is one (numpy).
double ref_arg(const std::vector<double>& v, bool is_max) {
  size_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return static_cast<double>(i);
    if (is_max ? v[i] > v[best] : v[i] < v[best]) best = i;
  }
  return static_cast<double>(best);
}

Host reference_arg(const Host& x, int axis, bool keepdims, bool is_max) {
  int nd = static_cast<int>(x.shape.size());
  int ax = axis < 0 ? axis + nd : axis;
  Shape out;
  for (int d = 0; d < nd; ++d) {
    if (d != ax)
      out.push_back(x.shape[d]);
    else if (keepdims)
      out.push_back(1);
  }
  Host r{out, {}};
  // Lines come in row-major order of the other dims, which is the output order.
  reference_lines(x.shape, ax, [&](const std::vector<size_t>& idx) {
    std::vector<double> v;
    for (size_t i : idx) v.push_back(x[i]);
    r.data.push_back(ref_arg(v, is_max));
  });
  return r;
}

TEST(ArgReduce, MatchesReferenceEveryDtypeAndLayout) {
  std::vector<Dtype> dts(std::begin(float_dtypes), std::end(float_dtypes));
  dts.insert(dts.end(), std::begin(int_dtypes), std::end(int_dtypes));
  dts.push_back(bool_);
  uint64_t seed = 1;
  for (Dtype dt : dts) {
    for (const Shape& shape : {Shape{3, 4, 5}, Shape{2, 600}}) {
      for (int axis : {0, 1, -1}) {
        if (axis == 1 && shape.size() == 2) continue;
        for (Layout layout : all_layouts) {
          for (bool keepdims : {false, true}) {
            // Few distinct values, so that ties (and first-occurrence) matter.
            Host x = random_host(shape, dt, seed++, -3, 3);
            if (dt.is_floating()) x = map(x, [](double v) { return std::round(v * 2) / 2; });
            Array a = make_array(x, dt, layout);
            Array mx = argmax(a, axis, keepdims), mn = argmin(a, axis, keepdims);
            EXPECT_EQ(mx.dtype(), uint32);
            EXPECT_TRUE(close(to_host(mx), reference_arg(x, axis, keepdims, true), {0, 0}))
                << "argmax " << dt.name() << " " << shape_str(shape) << " axis " << axis << " "
                << layout_name(layout);
            EXPECT_TRUE(close(to_host(mn), reference_arg(x, axis, keepdims, false), {0, 0}))
                << "argmin " << dt.name() << " " << shape_str(shape) << " axis " << axis << " "
                << layout_name(layout);
          }
        }
      }
    }
  }
}

TEST(ArgReduce, LongRowsFindTheFirstExtremeAcrossBlocks) {
  // Rows long enough for the blocked scan: the extreme repeated in several
  // blocks, at block boundaries, at the very start and the very end.
  for (int64_t n : {512, 1000, 4096, 131072}) {
    for (int64_t first : {int64_t{0}, int64_t{255}, int64_t{256}, n / 2, n - 1}) {
      std::vector<float> v(n);
      for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f;
      v[first] = 5.0f;
      if (first + 300 < n) v[first + 300] = 5.0f;
      v[n - 1 > first ? n - 1 : first] = 5.0f;
      EXPECT_EQ(argmax(array(v)).item<uint32_t>(), static_cast<uint32_t>(first)) << n;
      for (auto& x : v) x = -x;
      EXPECT_EQ(argmin(array(v)).item<uint32_t>(), static_cast<uint32_t>(first)) << n;
      // bfloat16 and int32 take the same blocked path.
      EXPECT_EQ(argmin(astype(array(v), bfloat16)).item<uint32_t>(), static_cast<uint32_t>(first));
      EXPECT_EQ(argmin(astype(array(v), int32), 0).item<uint32_t>(),
                argmin(astype(array(v), float64)).item<uint32_t>());
    }
  }
}

TEST(ArgReduce, FewLongRowsSplitAcrossBlocks) {
  // A decode step's shape (few rows of a vocabulary): on the GPU each row is split into
  // chunks whose candidates are merged. Ties across chunk boundaries go to the first, a NaN in
  // a later chunk beats every number, rows read through a transposed (strided) layout.
  const int64_t rows = 3, n = 100003;
  std::vector<float> v(rows * n);
  for (int64_t i = 0; i < rows * n; ++i) v[i] = static_cast<float>((i * 7919) % 997) / 997.0f;
  v[0 * n + 8191] = 2.0f;  // the last element of chunk 0 ties with the first of chunk 1
  v[0 * n + 8192] = 2.0f;
  v[1 * n + 50000] = 3.0f;
  v[1 * n + 90000] = NAN;
  v[2 * n + n - 1] = 4.0f;
  Array a = array(v, {rows, n});
  EXPECT_EQ(argmax(a, 1).to_vector<uint32_t>(), (std::vector<uint32_t>{8191, 90000, 100002}));
  Array t = transpose(array(v, {rows, n}), {1, 0});  // [n, rows], reduced over axis 0
  EXPECT_EQ(argmax(t, 0).to_vector<uint32_t>(), (std::vector<uint32_t>{8191, 90000, 100002}));
  for (auto& x : v) x = -x;
  EXPECT_EQ(argmin(array(v, {rows, n}), 1).to_vector<uint32_t>(),
            (std::vector<uint32_t>{8191, 90000, 100002}));
}

TEST(ArgReduce, NanCountsAsTheExtreme) {
  Array a = array<float>({1, NAN, 9, NAN, -4, 0}, {2, 3});
  EXPECT_EQ(argmax(a, 1).to_vector<uint32_t>(), (std::vector<uint32_t>{1, 0}));
  EXPECT_EQ(argmin(a, 1).to_vector<uint32_t>(), (std::vector<uint32_t>{1, 0}));
  EXPECT_EQ(argmax(a).item<uint32_t>(), 1u);
  std::vector<float> big(2000, 0.0f);
  big[1500] = 3.0f;
  big[1700] = NAN;
  big[1800] = NAN;
  EXPECT_EQ(argmax(array(big)).item<uint32_t>(), 1700u);
  EXPECT_EQ(argmin(array(big)).item<uint32_t>(), 1700u);
  big[1700] = 1.0f;
  big[1800] = 1.0f;
  EXPECT_EQ(argmax(array(big)).item<uint32_t>(), 1500u);
}

TEST(ArgReduce, FlattenedAndShapes) {
  Host x = random_host({3, 4, 5}, float32, 77, -5, 5);
  Array a = make_array(x, float32, Layout::transposed);
  Host flat{{static_cast<int64_t>(x.size())}, x.data};
  EXPECT_EQ(argmax(a).shape(), Shape{});
  EXPECT_EQ(argmax(a, true).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(static_cast<double>(argmax(a).item<uint32_t>()), ref_arg(flat.data, true));
  EXPECT_EQ(static_cast<double>(argmin(a).item<uint32_t>()), ref_arg(flat.data, false));
  EXPECT_EQ(argmax(a, 1, true).shape(), (Shape{3, 1, 5}));
  EXPECT_EQ(argmax(zeros({4, 0}), 0).shape(), Shape{0});
}

TEST(ArgReduce, BadInputNamesTheOp) {
  auto expect_error = [](auto f, const std::string& op, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << "no error for " << op;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("[" + op + "]"), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  };
  expect_error([] { argmax(ones({2, 3}), 2); }, "argmax", "axis 2");
  expect_error([] { argmin(ones({2, 3}), -3); }, "argmin", "axis -3");
  expect_error([] { argmax(zeros({0, 3}), 0); }, "argmax", "empty");
  expect_error([] { argmin(zeros({0})); }, "argmin", "empty");
}

}  // namespace
}  // namespace lathe::testing
