// The data-moving shape ops against reference loops over float64 hosts:
// concatenate, stack, split, slice_update (including its in-place path), pad,
// tile and repeat; every dtype, strided inputs, and their errors.
#include <algorithm>
#include <cmath>

#include "ops/nd_ref.h"

namespace lathe::testing {
namespace {

const Tol exact{0, 0};

Host random_of(const Shape& s, Dtype dt, uint64_t seed) {
  return dt.is_floating() ? random_host(s, dt, seed) : random_host(s, dt, seed, -100, 100);
}

const void* buffer_of(const Array& a) { return a.node().buffer.get(); }

TEST(Concatenate, EveryAxisDtypeAndLayout) {
  uint64_t seed = 100;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      for (int axis : {0, 1, 2, -1}) {
        int ax = axis < 0 ? axis + 3 : axis;
        std::vector<Host> hosts;
        std::vector<Array> arrays;
        for (int64_t extent : {2, 1, 3}) {
          Shape s = {2, 3, 4};
          s[ax] = extent;
          hosts.push_back(random_of(s, dt, seed++));
          arrays.push_back(make_array(hosts.back(), dt, layout));
        }
        Shape out = {2, 3, 4};
        out[ax] = 6;
        Host want = build(out, [&](const Coord& c) {
          Coord k = c;
          for (const Host& h : hosts) {
            if (k[ax] < h.shape[ax]) return at(h, k);
            k[ax] -= h.shape[ax];
          }
          return -1.0;
        });
        Array y = concatenate(arrays, axis);
        EXPECT_EQ(y.dtype(), dt);
        EXPECT_TRUE(close(to_host(y), want, exact))
            << dt.name() << " " << layout_name(layout) << " axis " << axis;
      }
    }
  }
}

TEST(Concatenate, PromotesDtypesAndSkipsEmptyParts) {
  Array a = array<int32_t>({1, 2}, {1, 2});
  Array b = array<float>({0.5f, 1.5f, 2.5f, 3.5f}, {2, 2});
  Array e = zeros({0, 2}, int8);
  Array y = concatenate({a, e, b}, 0);
  EXPECT_EQ(y.dtype(), float32);
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2, 0.5f, 1.5f, 2.5f, 3.5f}));
}

TEST(Concatenate, Errors) {
  EXPECT_OP_ERROR("concatenate", concatenate({}, 0));
  EXPECT_OP_ERROR("concatenate", concatenate({zeros({2, 3}), zeros({2, 4})}, 0));
  EXPECT_OP_ERROR("concatenate", concatenate({zeros({2, 3}), zeros({2, 3, 1})}, 0));
  EXPECT_OP_ERROR("concatenate", concatenate({zeros({2, 3}), zeros({2, 3})}, 2));
  EXPECT_OP_ERROR("concatenate", concatenate({zeros({2, 3}), zeros({2, 3})}, -3));
  EXPECT_OP_ERROR("concatenate", concatenate({Array(1.0f), Array(2.0f)}, 0));
}

TEST(Stack, NewAxisAtEveryPosition) {
  uint64_t seed = 200;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      for (int axis : {0, 1, 2, -1}) {
        int ax = axis < 0 ? axis + 3 : axis;
        std::vector<Host> hosts;
        std::vector<Array> arrays;
        for (int i = 0; i < 3; ++i) {
          hosts.push_back(random_of({2, 5}, dt, seed++));
          arrays.push_back(make_array(hosts.back(), dt, layout));
        }
        Shape out = {2, 5};
        out.insert(out.begin() + ax, 3);
        Host want = build(out, [&](const Coord& c) {
          Coord k = c;
          k.erase(k.begin() + ax);
          return at(hosts[c[ax]], k);
        });
        EXPECT_TRUE(close(to_host(stack(arrays, axis)), want, exact))
            << dt.name() << " " << layout_name(layout) << " axis " << axis;
      }
    }
  }
  EXPECT_OP_ERROR("stack", stack({}, 0));
  EXPECT_OP_ERROR("stack", stack({zeros({2, 3}), zeros({3, 2})}, 0));
  EXPECT_OP_ERROR("stack", stack({zeros({2, 3}), zeros({2, 3})}, 3));
  EXPECT_OP_ERROR("stack", stack({zeros({2, 3}), zeros({2, 3})}, -4));
}

TEST(Split, SectionsAndIndicesAreViews) {
  for (Dtype dt : all_dtypes) {
    Host x = random_of({4, 6}, dt, 300);
    Array a = make_array(x, dt, Layout::transposed);
    keep(a);
    auto parts = split(a, 3, 1);
    ASSERT_EQ(parts.size(), 3u);
    eval(parts);
    for (int p = 0; p < 3; ++p) {
      Host want = build({4, 2}, [&](const Coord& c) { return at(x, {c[0], 2 * p + c[1]}); });
      EXPECT_EQ(buffer_of(parts[p]), buffer_of(a)) << "part " << p << " is not a view";
      EXPECT_TRUE(close(to_host(parts[p]), want, exact)) << dt.name() << " part " << p;
    }
    // numpy.split(x, [1, 3], axis=0) -> rows [0:1], [1:3], [3:4]
    auto rows = split(a, std::vector<int64_t>{1, 3}, 0);
    ASSERT_EQ(rows.size(), 3u);
    const int64_t bounds[] = {0, 1, 3, 4};
    for (int p = 0; p < 3; ++p) {
      Host want = build({bounds[p + 1] - bounds[p], 6}, [&](const Coord& c) {
        return at(x, {bounds[p] + c[0], c[1]});
      });
      EXPECT_TRUE(close(to_host(rows[p]), want, exact)) << dt.name() << " rows " << p;
    }
  }
  // Cut points past the end give empty parts, as numpy's.
  auto tail = split(zeros({4}), std::vector<int64_t>{2, 9}, 0);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[1].shape(), (Shape{2}));
  EXPECT_EQ(tail[2].shape(), (Shape{0}));
  EXPECT_OP_ERROR("split", split(zeros({4, 6}), 4, 1));
  EXPECT_OP_ERROR("split", split(zeros({4, 6}), 0, 1));
  EXPECT_OP_ERROR("split", split(zeros({4, 6}), 2, 2));
  EXPECT_OP_ERROR("split", split(zeros({4, 6}), std::vector<int64_t>{1}, -3));
}

// slice_update's reference: a copy of a with each region coordinate replaced.
Host slice_update_ref(const Host& a, const Host& update, const Shape& region, const Shape& first,
                      const Shape& steps) {
  Host r = a;
  for_each_coord(region, [&](const Coord& c) {
    Coord dst(c.size()), src(update.shape.size());
    for (size_t d = 0; d < c.size(); ++d) dst[d] = first[d] + c[d] * steps[d];
    size_t lead = c.size() - update.shape.size();
    for (size_t d = 0; d < src.size(); ++d) src[d] = update.shape[d] == 1 ? 0 : c[lead + d];
    r[flat_index(a.shape, dst)] = at(update, src);
  });
  return r;
}

TEST(SliceUpdate, RegionsStepsBroadcastsDtypesAndLayouts) {
  struct Case {
    Shape start, stop, steps;
    Shape region, first;  // as numpy computes them
    Shape update;
  };
  const Case cases[] = {
      {{1, 2}, {3, 5}, {}, {2, 3}, {1, 2}, {2, 3}},
      {{0, 0}, {4, 6}, {2, 3}, {2, 2}, {0, 0}, {2, 2}},
      {{3, 5}, {-5, -7}, {-1, -2}, {4, 3}, {3, 5}, {4, 3}},  // backwards on both axes
      {{1}, {2}, {}, {1, 6}, {1, 0}, {6}},                   // broadcast a row
      {{0, 1}, {4, 2}, {}, {4, 1}, {0, 1}, {}},              // a scalar fills a column
      {{-2, -4}, {100, 100}, {}, {2, 4}, {2, 2}, {2, 1}},    // clamped stop, broadcast column
  };
  uint64_t seed = 400;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      for (const auto& c : cases) {
        Host a = random_of({4, 6}, dt, seed++);
        Host u = random_of(c.update, dt, seed++);
        Shape steps = c.steps.empty() ? Shape{1, 1} : c.steps;
        Host want = slice_update_ref(a, u, c.region, c.first, steps);
        Array y =
            slice_update(make_array(a, dt, layout), make_array(u, dt), c.start, c.stop, c.steps);
        EXPECT_EQ(y.dtype(), dt);
        EXPECT_TRUE(close(to_host(y), want, exact))
            << dt.name() << " " << layout_name(layout) << " start " << shape_str(c.start);
      }
    }
  }
}

TEST(SliceUpdate, CastsTheUpdateToTheArrayDtype) {
  Array a = zeros({2, 3}, bfloat16);
  Array y = slice_update(a, array<int32_t>({7, 8, 9}), {1}, {2});
  EXPECT_EQ(y.dtype(), bfloat16);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 0, 0, 7, 8, 9}));
}

TEST(SliceUpdate, UpdatesAKvCacheInPlaceEveryStep) {
  // The decode loop's pattern: the handle is reassigned, the old node is read once.
  Array cache = zeros({2, 8, 4}, float16);
  eval(cache);
  const void* buffer = buffer_of(cache);
  for (int64_t step = 0; step < 8; ++step) {
    Array kv = full({2, 1, 4}, static_cast<double>(step + 1), float16);
    cache = slice_update(cache, kv, {0, step, 0}, {2, step + 1, 4});
    eval(cache);
    EXPECT_EQ(buffer_of(cache), buffer) << "step " << step << " copied the cache";
  }
  Host want = build({2, 8, 4}, [](const Coord& c) { return static_cast<double>(c[1] + 1); });
  EXPECT_TRUE(close(to_host(cache), want, exact));
}

TEST(SliceUpdate, FreedInputIsDonated) {
  Array a = zeros({4, 4}, float32);
  eval(a);
  const void* buffer = buffer_of(a);
  Array y = slice_update(a, ones({2, 2}, float32), {1, 1}, {3, 3});
  a.free();
  eval(y);
  EXPECT_EQ(buffer_of(y), buffer);
  Host want = build({4, 4}, [](const Coord& c) {
    return c[0] >= 1 && c[0] < 3 && c[1] >= 1 && c[1] < 3 ? 1.0 : 0.0;
  });
  EXPECT_TRUE(close(to_host(y), want, exact));
}

TEST(SliceUpdate, CopiesWhenTheInputIsStillHeld) {
  Array a = zeros({4, 4}, float32);
  eval(a);
  Array y = slice_update(a, ones({2, 2}, float32), {0, 0}, {2, 2});
  eval(y);
  EXPECT_NE(buffer_of(y), buffer_of(a));
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(16, 0.0f));
  // Two readers of the same node: neither may take its buffer.
  Array b = zeros({2}, int32);
  eval(b);
  Array first = slice_update(b, Array(5), {0}, {1});
  Array second = slice_update(b, Array(6), {1}, {2});
  b = Array(0);
  eval(first, second);
  EXPECT_EQ(first.to_vector<int32_t>(), (std::vector<int32_t>{5, 0}));
  EXPECT_EQ(second.to_vector<int32_t>(), (std::vector<int32_t>{0, 6}));
}

TEST(SliceUpdate, Errors) {
  Array a = zeros({4, 6});
  EXPECT_OP_ERROR("slice_update", slice_update(a, zeros({3, 3}), {0, 0}, {2, 3}));
  EXPECT_OP_ERROR("slice_update", slice_update(a, zeros({2, 2, 3}), {0, 0}, {2, 3}));
  EXPECT_OP_ERROR("slice_update", slice_update(a, zeros({1}), {0, 0, 0}, {1, 1, 1}));
  EXPECT_OP_ERROR("slice_update", slice_update(a, zeros({1}), {0, 0}, {1, 1}, {1, 0}));
}

TEST(Pad, ConstantAndEdgeModes) {
  const std::vector<std::pair<int64_t, int64_t>> widths = {{1, 2}, {0, 3}};
  uint64_t seed = 500;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_of({3, 4}, dt, seed++);
      Array a = make_array(x, dt, layout);
      const double fill = dt == bool_ ? 1.0 : 7.0;
      Host want = build({6, 7}, [&](const Coord& c) {
        int64_t i = c[0] - 1, j = c[1];
        return i >= 0 && i < 3 && j < 4 ? at(x, {i, j}) : fill;
      });
      EXPECT_TRUE(close(to_host(pad(a, widths, fill)), want, exact))
          << dt.name() << " " << layout_name(layout);
      Host edge = build({6, 7}, [&](const Coord& c) {
        return at(x, {std::clamp<int64_t>(c[0] - 1, 0, 2), std::min<int64_t>(c[1], 3)});
      });
      EXPECT_TRUE(close(to_host(pad(a, widths, PadMode::edge)), edge, exact))
          << dt.name() << " " << layout_name(layout) << " edge";
    }
  }
  // One pair pads every axis; the default value is zero.
  Host y = to_host(pad(ones({1, 1}, int32), {{1, 1}}));
  EXPECT_TRUE(close(y, Host{{3, 3}, {0, 0, 0, 0, 1, 0, 0, 0, 0}}, exact));
  EXPECT_OP_ERROR("pad", pad(zeros({2, 2}), {{1, 1}, {1, 1}, {1, 1}}));
  EXPECT_OP_ERROR("pad", pad(zeros({2, 2}), {{1, -1}, {0, 0}}));
  EXPECT_OP_ERROR("pad", pad(zeros({0, 2}), {{1, 0}, {0, 0}}, PadMode::edge));
  EXPECT_OP_ERROR("pad", pad(zeros({2}, uint8), {{1, 1}}, -1.0));
  EXPECT_OP_ERROR("pad", pad(zeros({2}, int8), {{1, 1}}, 128.0));
  EXPECT_OP_ERROR("pad", pad(zeros({2}, int32), {{1, 1}}, std::nan("")));
  EXPECT_OP_ERROR("pad", pad(zeros({2}, int64), {{1, 1}}, 9223372036854775808.0));
  EXPECT_EQ(pad(zeros({1}, int8), {{1, 0}}, -128.0).to_vector<int8_t>(),
            (std::vector<int8_t>{-128, 0}));
}

TEST(Tile, RepeatsTheWholeArray) {
  uint64_t seed = 600;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_of({2, 3}, dt, seed++);
      Array a = make_array(x, dt, layout);
      Host want = build({4, 9}, [&](const Coord& c) { return at(x, {c[0] % 2, c[1] % 3}); });
      EXPECT_TRUE(close(to_host(tile(a, {2, 3})), want, exact))
          << dt.name() << " " << layout_name(layout);
      // Fewer reps than dims prepend ones; more reps prepend dims to the array.
      Host last = build({2, 6}, [&](const Coord& c) { return at(x, {c[0], c[1] % 3}); });
      EXPECT_TRUE(close(to_host(tile(a, {2})), last, exact));
      Host lead = build({2, 2, 3}, [&](const Coord& c) { return at(x, {c[1], c[2]}); });
      EXPECT_TRUE(close(to_host(tile(a, {2, 1, 1})), lead, exact));
    }
  }
  EXPECT_EQ(tile(zeros({2, 3}), {0, 1}).shape(), (Shape{0, 3}));
  EXPECT_OP_ERROR("tile", tile(zeros({2, 3}), {-1, 1}));
}

TEST(Repeat, RepeatsEachElementAlongAnAxis) {
  uint64_t seed = 700;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_of({2, 3, 2}, dt, seed++);
      Array a = make_array(x, dt, layout);
      for (int axis : {0, 1, 2, -1}) {
        int ax = axis < 0 ? axis + 3 : axis;
        Shape out = x.shape;
        out[ax] *= 3;
        Host want = build(out, [&](const Coord& c) {
          Coord k = c;
          k[ax] /= 3;
          return at(x, k);
        });
        EXPECT_TRUE(close(to_host(repeat(a, 3, axis)), want, exact))
            << dt.name() << " " << layout_name(layout) << " axis " << axis;
      }
      Host flat = build({24}, [&](const Coord& c) { return x[c[0] / 2]; });
      EXPECT_TRUE(close(to_host(repeat(a, 2)), flat, exact));
    }
  }
  EXPECT_EQ(repeat(zeros({2, 3}), 0, 1).shape(), (Shape{2, 0}));
  EXPECT_OP_ERROR("repeat", repeat(zeros({2, 3}), -1, 0));
  EXPECT_OP_ERROR("repeat", repeat(zeros({2, 3}), 2, 2));
}

}  // namespace
}  // namespace lathe::testing
