// Shape ops against reference loops over float64 hosts: the views (reshape,
// transpose, slice, broadcast_to, expand_dims/squeeze, as_strided) and the
// data-moving ops (concatenate, stack, split, slice_update, pad, tile, repeat),
// every dtype, contiguous and strided inputs, and their errors.
#include <algorithm>

#include "ops/nd_ref.h"

namespace lathe::testing {
namespace {

const Tol exact{0, 0};

Host random_of(const Shape& s, Dtype dt, uint64_t seed) {
  return dt.is_floating() ? random_host(s, dt, seed) : random_host(s, dt, seed, -100, 100);
}

const void* buffer_of(const Array& a) { return a.node().buffer.get(); }

// Python's range for a slice with explicit start and stop.
std::vector<int64_t> py_slice(int64_t n, int64_t start, int64_t stop, int64_t step) {
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  std::vector<int64_t> r;
  if (step > 0) {
    for (int64_t i = std::max<int64_t>(start, 0); i < std::min(stop, n); i += step) r.push_back(i);
  } else {
    for (int64_t i = std::min(start, n - 1); i > std::max<int64_t>(stop, -1); i += step) {
      r.push_back(i);
    }
  }
  return r;
}

// ---- views ----

TEST(ShapeViews, ReshapeIsAViewWhenTheLayoutAllows) {
  Host x = random_host({4, 6}, float32, 1);
  Array c = make_array(x, float32);
  keep(c);
  Array r = reshape(c, {2, 3, 4});
  eval(r);
  EXPECT_EQ(buffer_of(r), buffer_of(c));
  EXPECT_TRUE(close(to_host(r), Host{{2, 3, 4}, x.data}, exact));

  // A transposed (4, 6) has strides (1, 4): splitting its last axis is still a view.
  Array t = make_array(x, float32, Layout::transposed);
  keep(t);
  Array split_last = reshape(t, {4, 2, 3});
  eval(split_last);
  EXPECT_EQ(buffer_of(split_last), buffer_of(t));
  EXPECT_TRUE(close(to_host(split_last), Host{{4, 2, 3}, x.data}, exact));
}

TEST(ShapeViews, ReshapeCopiesWhenTheLayoutDoesNot) {
  for (Dtype dt : all_dtypes) {
    Host x = random_of({4, 6}, dt, 2);
    Array t = make_array(x, dt, Layout::transposed);
    keep(t);
    Array flat = reshape(t, {24});
    eval(flat);
    EXPECT_NE(buffer_of(flat), buffer_of(t)) << dt.name();
    EXPECT_TRUE(flat.node().contiguous);
    EXPECT_TRUE(close(to_host(flat), Host{{24}, x.data}, exact)) << dt.name();
    Host strided = random_of({3, 4}, dt, 3);
    EXPECT_TRUE(close(to_host(reshape(make_array(strided, dt, Layout::strided), {2, 6})),
                      Host{{2, 6}, strided.data}, exact))
        << dt.name();
  }
}

TEST(ShapeViews, ReshapeErrors) {
  Array a = zeros({2, 3});
  EXPECT_OP_ERROR("reshape", reshape(a, {4, 2}));
  EXPECT_OP_ERROR("reshape", reshape(a, {-1, -1}));
  EXPECT_OP_ERROR("reshape", reshape(a, {-1, 4}));
  EXPECT_OP_ERROR("reshape", reshape(a, {-2, -3}));
  EXPECT_EQ(reshape(a, {3, -1}).shape(), (Shape{3, 2}));
}

TEST(ShapeViews, TransposeMatchesReference) {
  const std::vector<std::vector<int>> perms = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {0, 2, 1}};
  uint64_t seed = 10;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_of({2, 3, 4}, dt, seed++);
      for (const auto& p : perms) {
        Array y = transpose(make_array(x, dt, layout), p);
        Shape shape = {x.shape[p[0]], x.shape[p[1]], x.shape[p[2]]};
        Host want = build(shape, [&](const Coord& c) {
          Coord src(3);
          for (int i = 0; i < 3; ++i) src[p[i]] = c[i];
          return at(x, src);
        });
        EXPECT_TRUE(close(to_host(y), want, exact)) << dt.name() << " " << layout_name(layout);
      }
      Host rev = build({4, 3, 2}, [&](const Coord& c) { return at(x, {c[2], c[1], c[0]}); });
      EXPECT_TRUE(close(to_host(transpose(make_array(x, dt, layout))), rev, exact));
    }
  }
  Array a = zeros({2, 3});
  EXPECT_OP_ERROR("transpose", transpose(a, {0}));
  EXPECT_OP_ERROR("transpose", transpose(a, {0, 0}));
  EXPECT_OP_ERROR("transpose", transpose(a, {0, 2}));
}

TEST(ShapeViews, SlicesWithNegativeStepsMatchPythonSemantics) {
  struct Case {
    Shape start, stop, steps;
  };
  const Case cases[] = {
      {{3, 5}, {-5, -7}, {-1, -2}},  // walk both axes backwards
      {{-1, 0}, {0, 6}, {-2, 3}},          {{1, -2}, {3, -7}, {1, -1}},
      {{0, 4}, {4, 1}, {1, -2}},           {{2, 0}, {2, 6}, {1, 1}},  // empty
      {{-100, 100}, {100, -100}, {1, -1}},                            // clamped
  };
  uint64_t seed = 20;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_of({4, 6}, dt, seed++);
      for (const auto& c : cases) {
        auto r0 = py_slice(4, c.start[0], c.stop[0], c.steps[0]);
        auto r1 = py_slice(6, c.start[1], c.stop[1], c.steps[1]);
        Shape shape = {static_cast<int64_t>(r0.size()), static_cast<int64_t>(r1.size())};
        Host want = build(shape, [&](const Coord& k) { return at(x, {r0[k[0]], r1[k[1]]}); });
        Array y = slice(make_array(x, dt, layout), c.start, c.stop, c.steps);
        EXPECT_TRUE(close(to_host(y), want, exact))
            << dt.name() << " " << layout_name(layout) << " start " << shape_str(c.start);
      }
    }
  }
  // Defaults with a negative step reverse the whole axis.
  Array v = array<int32_t>({0, 1, 2, 3, 4});
  EXPECT_EQ(slice(v, {}, {}, {-1}).to_vector<int32_t>(), (std::vector<int32_t>{4, 3, 2, 1, 0}));
  EXPECT_EQ(slice_axis(v, 0, 3, -6, -2).to_vector<int32_t>(), (std::vector<int32_t>{3, 1}));
  EXPECT_OP_ERROR("slice", slice(v, {0}, {5}, {0}));
  EXPECT_OP_ERROR("slice", slice(v, {0, 0}, {1, 1}));
}

TEST(ShapeViews, BroadcastToSharesDataWithZeroStrides) {
  for (Dtype dt : all_dtypes) {
    Host x = random_of({3, 1}, dt, 30);
    Array a = make_array(x, dt);
    keep(a);
    Array b = broadcast_to(a, {2, 3, 4});
    eval(b);
    EXPECT_EQ(buffer_of(b), buffer_of(a));
    EXPECT_EQ(b.node().strides[0], 0);
    EXPECT_EQ(b.node().strides[2], 0);
    Host want = build({2, 3, 4}, [&](const Coord& c) { return at(x, {c[1], 0}); });
    EXPECT_TRUE(close(to_host(b), want, exact)) << dt.name();
  }
  EXPECT_OP_ERROR("broadcast_to", broadcast_to(zeros({3, 2}), {3, 3}));
  EXPECT_OP_ERROR("broadcast_to", broadcast_to(zeros({3, 2}), {2}));
}

TEST(ShapeViews, ExpandDimsAndSqueeze) {
  Array a = zeros({2, 1, 3});
  EXPECT_EQ(expand_dims(a, 0).shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(expand_dims(a, -1).shape(), (Shape{2, 1, 3, 1}));
  EXPECT_EQ(expand_dims(a, std::vector<int>{0, 4}).shape(), (Shape{1, 2, 1, 3, 1}));
  EXPECT_EQ(squeeze(a).shape(), (Shape{2, 3}));
  EXPECT_EQ(squeeze(a, {1}).shape(), (Shape{2, 3}));
  EXPECT_EQ(squeeze(a, {-2}).shape(), (Shape{2, 3}));
  EXPECT_OP_ERROR("expand_dims", expand_dims(a, 5));
  EXPECT_OP_ERROR("expand_dims", expand_dims(a, -6));
  EXPECT_OP_ERROR("expand_dims", expand_dims(a, std::vector<int>{1, 1}));
  EXPECT_OP_ERROR("squeeze", squeeze(a, {0}));
  EXPECT_OP_ERROR("squeeze", squeeze(a, {3}));
  EXPECT_OP_ERROR("squeeze", squeeze(a, {1, 1}));
  Host x = random_host({2, 1, 3}, float32, 31);
  EXPECT_TRUE(close(to_host(squeeze(make_array(x, float32, Layout::strided))), Host{{2, 3}, x.data},
                    exact));
}

TEST(ShapeViews, AsStridedReadsWindowsAndChecksBounds) {
  Host x = random_host({10}, float32, 32);
  // Sliding windows of 4 with hop 2 over 10 elements: 4 windows.
  Array w = as_strided(make_array(x, float32), {4, 4}, {2, 1}, 0);
  Host want = build({4, 4}, [&](const Coord& c) { return x[c[0] * 2 + c[1]]; });
  EXPECT_TRUE(close(to_host(w), want, exact));
  // A strided input is made contiguous first: strides address its logical elements.
  Host m = random_host({3, 4}, float32, 33);
  Array diag = as_strided(make_array(m, float32, Layout::transposed), {3}, {5}, 0);
  EXPECT_TRUE(close(to_host(diag), Host{{3}, {m[0], m[5], m[10]}}, exact));
  Array a = make_array(x, float32);
  EXPECT_OP_ERROR("as_strided", as_strided(a, {5, 4}, {2, 1}, 0));  // reaches element 11
  EXPECT_OP_ERROR("as_strided", as_strided(a, {2}, {1}, 9));
  EXPECT_OP_ERROR("as_strided", as_strided(a, {2}, {-1}, 0));
  EXPECT_OP_ERROR("as_strided", as_strided(a, {2, 2}, {1}, 0));
  EXPECT_OP_ERROR("as_strided", as_strided(a, {-1}, {1}, 0));
  EXPECT_EQ(as_strided(a, {0, 4}, {100, 1}, 0).size(), 0u);
}

}  // namespace
}  // namespace lathe::testing
