// Indexing ops against reference loops over float64 hosts: take, gather,
// take_along_axis, put_along_axis, scatter and scatter_add; every data dtype,
// every index dtype, strided inputs, index errors at eval and shape errors.
#include <algorithm>
#include <numeric>
#include <random>

#include "ops/nd_ref.h"

namespace lathe::testing {
namespace {

const Tol exact{0, 0};

Host random_of(const Shape& s, Dtype dt, uint64_t seed) {
  return dt.is_floating() ? random_host(s, dt, seed) : random_host(s, dt, seed, -100, 100);
}

// Indices in [-n, n) (in [0, n) for unsigned dtypes).
Host random_indices(const Shape& s, int64_t n, Dtype dt, uint64_t seed) {
  bool is_signed = dt.kind() == DtypeKind::signed_int;
  return random_host(s, dt, seed, is_signed ? -n : 0, n - 1);
}

int64_t wrap(double i, int64_t n) {
  auto k = static_cast<int64_t>(i);
  return k < 0 ? k + n : k;
}

// Distinct indices: a random permutation of [0, n) cut to k, as a host of shape.
Host distinct_indices(const Shape& s, int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), std::mt19937_64(seed));
  Host h{s, std::vector<double>(shape_size(s))};
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<double>(p[i]);
  return h;
}

const void* buffer_of(const Array& a) { return a.node().buffer.get(); }

// Expects eval(x) to fail with "[op] index <bad> ..." and the message to name the index.
void expect_index_error(const char* op, Array x, const std::string& bad) {
  try {
    eval(x);
    ADD_FAILURE() << op << " with index " << bad << " did not throw";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind(std::string("[") + op + "] index " + bad + " ", 0), 0u) << m;
  }
}

TEST(Take, EveryAxisDtypeIndexDtypeAndLayout) {
  const Shape index_shapes[] = {{}, {4}, {2, 3}};
  uint64_t seed = 1000;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_of({3, 4, 5}, dt, seed++);
      Array a = make_array(x, dt, layout);
      for (int axis : {0, 1, 2, -1}) {
        const int ax = axis < 0 ? axis + 3 : axis;
        const int64_t n = x.shape[ax];
        for (Dtype it : int_dtypes) {
          for (const Shape& is : index_shapes) {
            Host idx = random_indices(is, n, it, seed++);
            Layout il = is.size() == 2 ? Layout::transposed : Layout::contiguous;
            Array y = take(a, make_array(idx, it, il), axis);
            Shape out(x.shape.begin(), x.shape.begin() + ax);
            out.insert(out.end(), is.begin(), is.end());
            out.insert(out.end(), x.shape.begin() + ax + 1, x.shape.end());
            Host want = build(out, [&](const Coord& c) {
              Coord ic(c.begin() + ax, c.begin() + ax + is.size());
              Coord src(c.begin(), c.begin() + ax);
              src.push_back(wrap(at(idx, ic), n));
              src.insert(src.end(), c.begin() + ax + is.size(), c.end());
              return at(x, src);
            });
            EXPECT_EQ(y.dtype(), dt);
            EXPECT_TRUE(close(to_host(y), want, exact))
                << dt.name() << " " << layout_name(layout) << " axis " << axis << " indices "
                << it.name() << shape_str(is);
          }
        }
      }
    }
  }
}

TEST(Take, FlattenedAndEmpty) {
  Host x = random_host({3, 4}, float32, 1100);
  Array a = make_array(x, float32, Layout::transposed);
  Array y = take(a, array<int32_t>({11, 0, -1, 5}, {2, 2}));
  EXPECT_TRUE(close(to_host(y), Host{{2, 2}, {x[11], x[0], x[11], x[5]}}, exact));
  EXPECT_EQ(take(a, zeros({0}, int32), 1).shape(), (Shape{3, 0}));
  EXPECT_EQ(to_host(take(a, zeros({0}, int32), 1)).size(), 0u);
}

TEST(Gather, EmbeddingRowsForIdsOfAnyShape) {
  uint64_t seed = 1200;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host table = random_of({10, 8}, dt, seed++);
      Host ids = random_indices({2, 3}, 10, int32, seed++);
      Array y = gather(make_array(table, dt, layout), make_array(ids, int32));
      Host want = build({2, 3, 8}, [&](const Coord& c) {
        return at(table, {wrap(at(ids, {c[0], c[1]}), 10), c[2]});
      });
      EXPECT_TRUE(close(to_host(y), want, exact)) << dt.name() << " " << layout_name(layout);
    }
  }
  // One decode token: ids of shape (1,) give one row.
  Host table = random_host({6, 4}, bfloat16, 1300);
  Array row = gather(make_array(table, bfloat16), array<uint32_t>({5}));
  EXPECT_TRUE(
      close(to_host(row), Host{{1, 4}, {table[20], table[21], table[22], table[23]}}, exact));
}

TEST(Take, OutOfRangeIndicesThrowAtEval) {
  Array a = zeros({5, 3});
  keep(a);
  expect_index_error("take", take(a, array<int32_t>({0, 5}), 0), "5");
  expect_index_error("take", take(a, array<int64_t>({-6}), 0), "-6");
  expect_index_error("take", take(a, array<uint8_t>({3}), 1), "3");
  expect_index_error("take", take(a, array<int8_t>({15}, {1, 1})), "15");
  expect_index_error("gather", gather(a, array<uint32_t>({7})), "7");
  // The error leaves the runtime usable.
  EXPECT_EQ(take(a, array<int32_t>({4, -5}), 0).shape(), (Shape{2, 3}));
  EXPECT_EQ(take(a, array<int32_t>({4, -5}), 0).to_vector<float>(), std::vector<float>(6, 0));
}

TEST(Take, ShapeAndDtypeErrors) {
  Array a = zeros({5, 3});
  EXPECT_OP_ERROR("take", take(a, zeros({2}, float32), 0));
  EXPECT_OP_ERROR("take", take(a, zeros({2}, bool_), 0));
  EXPECT_OP_ERROR("take", take(a, zeros({2}, int32), 2));
  EXPECT_OP_ERROR("take", take(a, zeros({2}, int32), -3));
  EXPECT_OP_ERROR("take", take(Array(1.0f), zeros({2}, int32), 0));
  EXPECT_OP_ERROR("gather", gather(Array(1.0f), zeros({2}, int32)));
  EXPECT_OP_ERROR("gather", gather(a, zeros({2}, bfloat16)));
}

TEST(TakeAlongAxis, PicksAlongTheAxisWithBroadcasting) {
  struct Case {
    Shape a, idx, out;
    int axis;
  };
  const Case cases[] = {
      {{3, 4, 5}, {3, 4, 2}, {3, 4, 2}, 2},  {{3, 4, 5}, {3, 6, 5}, {3, 6, 5}, 1},
      {{3, 4, 5}, {1, 6, 5}, {3, 6, 5}, -2},  // indices broadcast on axis 0
      {{1, 4, 5}, {3, 2, 1}, {3, 2, 5}, 1},   // a broadcasts on axis 0, indices on axis 2
      {{3, 4, 5}, {3, 0, 5}, {3, 0, 5}, 1},
  };
  uint64_t seed = 1400;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      for (const auto& c : cases) {
        const int ax = c.axis < 0 ? c.axis + 3 : c.axis;
        Host x = random_of(c.a, dt, seed++);
        Dtype it = int_dtypes[seed % 5];
        Host idx = random_indices(c.idx, c.a[ax], it, seed++);
        Array y = take_along_axis(make_array(x, dt, layout), make_array(idx, it, layout), c.axis);
        Host want = build(c.out, [&](const Coord& k) {
          Coord ik(3), src(3);
          for (int d = 0; d < 3; ++d) ik[d] = c.idx[d] == 1 ? 0 : k[d];
          for (int d = 0; d < 3; ++d) src[d] = c.a[d] == 1 ? 0 : k[d];
          src[ax] = wrap(at(idx, ik), c.a[ax]);
          return at(x, src);
        });
        EXPECT_TRUE(close(to_host(y), want, exact))
            << dt.name() << " " << layout_name(layout) << " a " << shape_str(c.a) << " indices "
            << it.name() << shape_str(c.idx);
      }
    }
  }
}

TEST(TakeAlongAxis, Errors) {
  Array a = zeros({3, 4});
  keep(a);
  EXPECT_OP_ERROR("take_along_axis", take_along_axis(a, zeros({4}, int32), 0));
  EXPECT_OP_ERROR("take_along_axis", take_along_axis(a, zeros({3, 4}, float32), 0));
  EXPECT_OP_ERROR("take_along_axis", take_along_axis(a, zeros({2, 4}, int32), 1));
  EXPECT_OP_ERROR("take_along_axis", take_along_axis(a, zeros({3, 4}, int32), 2));
  expect_index_error("take_along_axis", take_along_axis(a, full({3, 1}, 4, int32), 1), "4");
  expect_index_error("take_along_axis", take_along_axis(a, full({1, 4}, -4, int64), 0), "-4");
}

TEST(PutAlongAxis, WritesAlongTheAxis) {
  uint64_t seed = 1500;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_of({3, 4, 5}, dt, seed++);
      // Distinct targets per (i, k) column so the result does not depend on write order.
      Host idx{{3, 2, 5}, std::vector<double>(30)};
      for (int64_t i = 0; i < 3; ++i) {
        for (int64_t k = 0; k < 5; ++k) {
          Host p = distinct_indices({2}, 4, seed++);
          idx[flat_index(idx.shape, {i, 0, k})] = p[0] - (i == 1 ? 4 : 0);  // some negative
          idx[flat_index(idx.shape, {i, 1, k})] = p[1];
        }
      }
      Host v = random_of({3, 2, 5}, dt, seed++);
      Array y = put_along_axis(make_array(x, dt, layout), make_array(idx, int64, layout),
                               make_array(v, dt), 1);
      Host want = x;
      for_each_coord(idx.shape, [&](const Coord& c) {
        want[flat_index(x.shape, {c[0], wrap(at(idx, c), 4), c[2]})] = at(v, c);
      });
      EXPECT_TRUE(close(to_host(y), want, exact)) << dt.name() << " " << layout_name(layout);
    }
  }
  // Indices of size 1 off the axis broadcast; a scalar value fills every target.
  Array y = put_along_axis(zeros({2, 3}, int32), array<uint8_t>({2}, {1, 1}), Array(9), 1);
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{0, 0, 9, 0, 0, 9}));
}

TEST(PutAlongAxis, Errors) {
  Array a = zeros({3, 4});
  keep(a);
  EXPECT_OP_ERROR("put_along_axis", put_along_axis(a, zeros({2}, int32), Array(1.0f), 1));
  EXPECT_OP_ERROR("put_along_axis", put_along_axis(a, zeros({3, 1}, float32), Array(1.0f), 1));
  EXPECT_OP_ERROR("put_along_axis", put_along_axis(a, zeros({2, 1}, int32), Array(1.0f), 1));
  EXPECT_OP_ERROR("put_along_axis", put_along_axis(a, zeros({3, 2}, int32), zeros({3, 3}), 1));
  EXPECT_OP_ERROR("put_along_axis", put_along_axis(a, zeros({3, 2}, int32), Array(1.0f), 2));
  expect_index_error("put_along_axis", put_along_axis(a, full({3, 1}, 4, int32), Array(1.0f), 1),
                     "4");
}

TEST(Scatter, AssignsSlabsAtDistinctIndices) {
  uint64_t seed = 1600;
  for (Dtype dt : all_dtypes) {
    for (Layout layout : all_layouts) {
      for (int axis : {0, 1}) {
        Host x = random_of({6, 5}, dt, seed++);
        const int64_t n = x.shape[axis];
        Host idx = distinct_indices({2, 2}, n, seed++);
        idx[3] -= n;  // a negative index
        Shape us = axis == 0 ? Shape{2, 2, 5} : Shape{6, 2, 2};
        Host u = random_of(us, dt, seed++);
        Array y =
            scatter(make_array(x, dt, layout), make_array(idx, int32), make_array(u, dt), axis);
        Host want = x;
        for_each_coord(us, [&](const Coord& c) {
          Coord ic = axis == 0 ? Coord{c[0], c[1]} : Coord{c[1], c[2]};
          int64_t row = wrap(at(idx, ic), n);
          Coord dst = axis == 0 ? Coord{row, c[2]} : Coord{c[0], row};
          want[flat_index(x.shape, dst)] = at(u, c);
        });
        EXPECT_TRUE(close(to_host(y), want, exact))
            << dt.name() << " " << layout_name(layout) << " axis " << axis;
      }
    }
  }
}

TEST(ScatterAdd, AccumulatesDuplicateIndices) {
  // MoE combine: 6 (token, expert) outputs summed back into 4 token rows.
  const std::vector<double> token = {0, 2, 0, 3, 0, 2};
  uint64_t seed = 1700;
  for (Dtype dt : all_dtypes) {
    for (Dtype it : int_dtypes) {
      // Small integers keep every partial sum exact in every dtype.
      Host base = random_host({4, 3}, dt == bool_ ? bool_ : int8, seed++, -8, 8);
      Host upd = random_host({6, 3}, dt == bool_ ? bool_ : int8, seed++, -8, 8);
      if (dt.kind() == DtypeKind::unsigned_int) {
        base = map(base, [](double v) { return std::abs(v); });
        upd = map(upd, [](double v) { return std::abs(v); });
      }
      Array y = scatter_add(make_array(base, dt, Layout::offset), make_array(Host{{6}, token}, it),
                            make_array(upd, dt, Layout::transposed), 0);
      Host want = base;
      for (int64_t j = 0; j < 6; ++j) {
        for (int64_t k = 0; k < 3; ++k) {
          double& w = want[flat_index({4, 3}, {static_cast<int64_t>(token[j]), k})];
          w = dt == bool_ ? double(w != 0 || upd[j * 3 + k] != 0) : w + upd[j * 3 + k];
        }
      }
      EXPECT_TRUE(close(to_host(y), want, exact)) << dt.name() << " indices " << it.name();
    }
  }
  // Updates broadcast: adding a scalar once per occurrence counts the occurrences.
  Array counts = scatter_add(zeros({4}, int32), array<int32_t>({1, 1, 3, 1, -1}), Array(1), 0);
  EXPECT_EQ(counts.to_vector<int32_t>(), (std::vector<int32_t>{0, 3, 0, 2}));
}

TEST(Scatter, OutOfRangeIndexThrowsAtEvalNamingIt) {
  Array y = scatter(zeros({4, 2}, float32), array<int32_t>({1, 7}), ones({2, 2}, float32), 0);
  try {
    eval(y);
    ADD_FAILURE() << "index 7 of 4 was accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("scatter"), std::string::npos) << msg;
    EXPECT_NE(msg.find("7"), std::string::npos) << msg;
  }
  // The stream goes on after the error; a negative index counts from the end.
  Array z = scatter(zeros({4}, float32), array<int32_t>({-1}), ones({1}, float32), 0);
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{0, 0, 0, 1}));
}

TEST(ScatterAdd, WorksInPlaceOnADonatedInput) {
  Array acc = zeros({8, 16}, float32);
  eval(acc);
  const void* buffer = buffer_of(acc);
  acc = scatter_add(acc, array<int32_t>({1, 1, 5}), ones({3, 16}, float32), 0);
  eval(acc);
  EXPECT_EQ(buffer_of(acc), buffer);
  std::vector<float> v = acc.to_vector<float>();
  EXPECT_EQ(v[16], 2.0f);
  EXPECT_EQ(v[5 * 16 + 3], 1.0f);
  EXPECT_EQ(v[0], 0.0f);
}

TEST(Scatter, Errors) {
  Array a = zeros({4, 3});
  EXPECT_OP_ERROR("scatter", scatter(a, zeros({2}, float32), zeros({2, 3}), 0));
  EXPECT_OP_ERROR("scatter", scatter(a, zeros({2}, int32), zeros({3, 3}), 0));
  EXPECT_OP_ERROR("scatter", scatter(a, zeros({2}, int32), zeros({2, 3}), 2));
  EXPECT_OP_ERROR("scatter_add", scatter_add(a, zeros({2}, int32), zeros({2, 4}), 0));
  EXPECT_OP_ERROR("scatter_add", scatter_add(a, zeros({2, 2}, int32), zeros({3, 3}), 0));
  // A bad index at eval leaves the input untouched.
  eval(a);
  expect_index_error("scatter_add", scatter_add(a, array<int32_t>({0, 4}), ones({2, 3}), 0), "4");
  expect_index_error("scatter", scatter(a, array<int64_t>({-5}), ones({1, 3}), 0), "-5");
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(12, 0.0f));
}

}  // namespace
}  // namespace lathe::testing
