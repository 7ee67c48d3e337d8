// sort, argsort, partition, argpartition, topk against reference loops:
// every dtype and layout, stability, NaN placement, bad input.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/reduce_reference.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

// NaN after every number.
bool ref_less(double a, double b) { return std::isnan(b) ? !std::isnan(a) : a < b; }

// Values with ties (few distinct values) and, for floats, a few NaNs.
Host tied_values(const Shape& shape, Dtype dt, uint64_t seed) {
  Host x = random_host(shape, dt, seed, -4, 4);
  if (dt.is_floating()) {
    x = map(x, [](double v) { return std::round(v); });
    for (size_t i = 3; i < x.size(); i += 11) x[i] = NAN;
  }
  return x;
}

// Reference stable argsort of every line; want_values gets the sorted values.
void reference_sort(const Host& x, int axis, Host& values, Host& indices) {
  values = x;
  indices = x;
  reference_lines(x.shape, axis, [&](const std::vector<size_t>& idx) {
    std::vector<size_t> order(idx.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t i, size_t j) { return ref_less(x[idx[i]], x[idx[j]]); });
    for (size_t k = 0; k < idx.size(); ++k) {
      values[idx[k]] = x[idx[order[k]]];
      indices[idx[k]] = static_cast<double>(order[k]);
    }
  });
}

TEST(Sort, SortAndArgsortMatchStableReference) {
  uint64_t seed = 1;
  for (Dtype dt : all_dtypes) {
    for (const Shape& shape : {Shape{3, 4, 5}, Shape{2, 300}}) {
      for (int axis : {0, 1, -1}) {
        if (axis == 1 && shape.size() == 2) continue;
        for (Layout layout : all_layouts) {
          Host x = tied_values(shape, dt, seed++);
          Array a = make_array(x, dt, layout);
          Host values, indices;
          reference_sort(x, axis, values, indices);
          Array s = sort(a, axis), i = argsort(a, axis);
          EXPECT_EQ(s.dtype(), dt);
          EXPECT_EQ(i.dtype(), uint32);
          EXPECT_TRUE(close(to_host(s), values, {0, 0}))
              << "sort " << dt.name() << " " << shape_str(shape) << " axis " << axis << " "
              << layout_name(layout);
          EXPECT_TRUE(close(to_host(i), indices, {0, 0}))
              << "argsort " << dt.name() << " " << shape_str(shape) << " axis " << axis << " "
              << layout_name(layout);
        }
      }
    }
  }
}

TEST(Sort, StabilityAndNanPlacementExplicitly) {
  Array a = array<float>({2, NAN, 1, 2, -INFINITY, NAN, 1, INFINITY});
  EXPECT_EQ(argsort(a).to_vector<uint32_t>(), (std::vector<uint32_t>{4, 2, 6, 0, 3, 7, 1, 5}));
  auto s = sort(a).to_vector<float>();
  EXPECT_EQ(std::vector<float>(s.begin(), s.begin() + 6),
            (std::vector<float>{-INFINITY, 1, 1, 2, 2, INFINITY}));
  EXPECT_TRUE(std::isnan(s[6]) && std::isnan(s[7]));
  // bfloat16 NaNs sort last too.
  auto b = sort(astype(a, bfloat16)).to_vector<float>();
  EXPECT_TRUE(std::isnan(b[6]) && std::isnan(b[7]));
  // Stability over a long row of equal keys: indices come back in order.
  std::vector<uint32_t> want(1000);
  std::iota(want.begin(), want.end(), 0u);
  EXPECT_EQ(argsort(zeros({1000}, bfloat16)).to_vector<uint32_t>(), want);
  // topk counts NaN as the largest value.
  auto t = topk_indices(a, 3).to_vector<uint32_t>();
  EXPECT_EQ(t, (std::vector<uint32_t>{1, 5, 7}));
}

// Checks a partition of each line: a permutation of the input whose kth element
// is the sorted kth, with nothing greater before and nothing smaller after.
::testing::AssertionResult is_partition(const Host& x, const Host& got, const Host* indices,
                                        int axis, int64_t kth) {
  std::string err;
  reference_lines(x.shape, axis, [&](const std::vector<size_t>& idx) {
    std::vector<double> line, sorted, out;
    for (size_t i : idx) line.push_back(x[i]);
    sorted = line;
    std::stable_sort(sorted.begin(), sorted.end(), ref_less);
    for (size_t k = 0; k < idx.size(); ++k) {
      out.push_back(indices ? line.at(static_cast<size_t>((*indices)[idx[k]])) : got[idx[k]]);
    }
    if (indices) {
      std::vector<double> perm;
      for (size_t i : idx) perm.push_back((*indices)[i]);
      std::sort(perm.begin(), perm.end());
      for (size_t k = 0; k < perm.size(); ++k) {
        if (perm[k] != static_cast<double>(k)) err = "indices are not a permutation";
      }
    }
    std::vector<double> out_sorted = out;
    std::stable_sort(out_sorted.begin(), out_sorted.end(), ref_less);
    auto same = [](double p, double q) { return p == q || (std::isnan(p) && std::isnan(q)); };
    for (size_t k = 0; k < out.size(); ++k) {
      if (!same(out_sorted[k], sorted[k])) err = "values are not a permutation of the line";
    }
    double pivot = out[kth];
    if (!same(pivot, sorted[kth])) err = "element at kth is not the sorted kth";
    for (int64_t k = 0; k < static_cast<int64_t>(out.size()); ++k) {
      if (k < kth && ref_less(pivot, out[k])) err = "a greater element before kth";
      if (k > kth && ref_less(out[k], pivot)) err = "a smaller element after kth";
    }
  });
  if (err.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << err;
}

TEST(Sort, PartitionAndArgpartition) {
  uint64_t seed = 300;
  for (Dtype dt : all_dtypes) {
    for (int axis : {0, -1}) {
      for (Layout layout : all_layouts) {
        for (int64_t kth : {0, 2, -1}) {
          Host x = tied_values({5, 7}, dt, seed++);
          Array a = make_array(x, dt, layout);
          int64_t n = axis == 0 ? 5 : 7;
          int64_t k = kth < 0 ? kth + n : kth;
          Host p = to_host(partition(a, kth, axis));
          EXPECT_TRUE(is_partition(x, p, nullptr, axis, k))
              << "partition " << dt.name() << " axis " << axis << " kth " << kth << " "
              << layout_name(layout);
          Array ip = argpartition(a, kth, axis);
          EXPECT_EQ(ip.dtype(), uint32);
          Host ih = to_host(ip);
          EXPECT_TRUE(is_partition(x, ih, &ih, axis, k))
              << "argpartition " << dt.name() << " axis " << axis << " kth " << kth << " "
              << layout_name(layout);
        }
      }
    }
  }
}

// The k largest per line, descending, equal values by original position.
void reference_topk(const Host& x, int axis, int64_t k, Host& values, Host& indices) {
  int nd = static_cast<int>(x.shape.size());
  int ax = axis < 0 ? axis + nd : axis;
  Shape out = x.shape;
  out[ax] = k;
  values = Host{out, std::vector<double>(shape_size(out))};
  indices = values;
  if (k == 0) return;
  Strides os = row_strides(out);
  size_t line_no = 0;
  std::vector<size_t> starts;
  // Output line starts in the same row-major order as reference_lines visits.
  reference_lines(out, ax, [&](const std::vector<size_t>& idx) { starts.push_back(idx[0]); });
  reference_lines(x.shape, ax, [&](const std::vector<size_t>& idx) {
    std::vector<size_t> order(idx.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t i, size_t j) { return ref_less(x[idx[j]], x[idx[i]]); });
    size_t start = starts[line_no++];
    for (int64_t q = 0; q < k; ++q) {
      values[start + q * os[ax]] = x[idx[order[q]]];
      indices[start + q * os[ax]] = static_cast<double>(order[q]);
    }
  });
}

TEST(Sort, TopkMatchesReference) {
  uint64_t seed = 700;
  for (Dtype dt : all_dtypes) {
    for (int axis : {0, 1, -1}) {
      for (Layout layout : all_layouts) {
        for (int64_t k : {0, 1, 3, 5}) {
          Host x = tied_values({5, 4, 6}, dt, seed++);
          int64_t n = x.shape[axis < 0 ? 2 : axis];
          if (k > n) continue;
          Array a = make_array(x, dt, layout);
          Host values, indices;
          reference_topk(x, axis, k, values, indices);
          Array v = topk(a, k, axis), i = topk_indices(a, k, axis);
          EXPECT_EQ(v.dtype(), dt);
          EXPECT_TRUE(close(to_host(v), values, {0, 0}))
              << "topk " << dt.name() << " axis " << axis << " k " << k << " "
              << layout_name(layout);
          EXPECT_TRUE(close(to_host(i), indices, {0, 0}))
              << "topk_indices " << dt.name() << " axis " << axis << " k " << k << " "
              << layout_name(layout);
        }
      }
    }
  }
}

TEST(Sort, TopkOfFewAmongManyWithTiesAndNan) {
  // k * 64 <= n takes the single-pass heap; ties must still come in index order.
  uint64_t seed = 900;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      for (int64_t k : {1, 4}) {
        for (int axis : {0, 1}) {
          Host x = tied_values(axis == 1 ? Shape{3, 300} : Shape{300, 3}, dt, seed++);
          Array a = make_array(x, dt, layout);
          Host values, indices;
          reference_topk(x, axis, k, values, indices);
          EXPECT_TRUE(close(to_host(topk(a, k, axis)), values, {0, 0}))
              << dt.name() << " " << layout_name(layout) << " k " << k << " axis " << axis;
          EXPECT_TRUE(close(to_host(topk_indices(a, k, axis)), indices, {0, 0}))
              << dt.name() << " " << layout_name(layout) << " k " << k << " axis " << axis;
        }
      }
    }
  }
}

TEST(Sort, TopkOverAVocabularyRow) {
  Host x = random_host({2, 131072}, float32, 9, -20, 20);
  for (int64_t k : {1, 40, 131072}) {
    Host values, indices;
    reference_topk(x, -1, k, values, indices);
    Array a = make_array(x, float32);
    EXPECT_TRUE(close(to_host(topk(a, k)), values, {0, 0})) << k;
    EXPECT_TRUE(close(to_host(topk_indices(a, k)), indices, {0, 0})) << k;
  }
  // topk of 1 agrees with argmax.
  Array a = make_array(x, float32);
  EXPECT_TRUE(close(to_host(reshape(topk_indices(a, 1), {2})), to_host(argmax(a, -1)), {0, 0}));
}

TEST(Sort, BadInputNamesTheOp) {
  auto expect_error = [](auto f, const std::string& op, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << "no error for " << op;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_EQ(msg.rfind("[" + op + "]", 0), 0u) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  };
  Array a = ones({3, 4});
  expect_error([&] { sort(a, 2); }, "sort", "axis 2");
  expect_error([&] { argsort(a, -3); }, "argsort", "axis -3");
  expect_error([&] { partition(a, 4); }, "partition", "kth 4");
  expect_error([&] { argpartition(a, -5, 1); }, "argpartition", "kth -5");
  expect_error([&] { partition(zeros({2, 0}), 0); }, "partition", "size 0");
  expect_error([&] { topk(a, 5); }, "topk", "k 5");
  expect_error([&] { topk_indices(a, -1, 0); }, "topk_indices", "k -1");
  expect_error([&] { sort(Array(1.0f)); }, "sort", "out of range");
}

}  // namespace
}  // namespace lathe::testing
