// Convolutions against float64 direct-loop references written here: forward
// (gather form) and transposed (scatter form), every float dtype, strided
// inputs, and the adjoint identity <conv(x), y> == <x, conv_transpose(y)>.
#include <cmath>

#include "support/harness.h"

namespace lathe::testing {
namespace {

struct Spec {
  std::vector<int> stride, pad_lo, pad_hi, dil;
  int groups = 1;
  std::vector<int> out_pad;  // transposed only
};

// Splits a flat index of shape into coordinates.
std::vector<int64_t> coords(int64_t flat, const Shape& shape) {
  std::vector<int64_t> c(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    c[d] = flat % shape[d];
    flat /= shape[d];
  }
  return c;
}
int64_t flat_of(const std::vector<int64_t>& c, const Shape& shape) {
  int64_t f = 0;
  for (size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + c[d];
  return f;
}

// out[n, o.., co] = sum_{k.., c} x[n, o*s - p + k*d .., g*cig + c] * w[co, k.., c].
// mag receives sum |x * w| (the scale of the rounding error).
Host ref_conv(const Host& x, const Host& w, const Spec& sp, Host* mag) {
  const size_t ns = x.shape.size() - 2;
  const int64_t cin = x.shape.back(), cout = w.shape[0], cig = cin / sp.groups,
                cog = cout / sp.groups;
  Shape os = x.shape;
  os.back() = cout;
  for (size_t i = 0; i < ns; ++i) {
    int64_t len = x.shape[i + 1] + sp.pad_lo[i] + sp.pad_hi[i];
    os[i + 1] = (len - sp.dil[i] * (w.shape[i + 1] - 1) - 1) / sp.stride[i] + 1;
  }
  Shape ks(w.shape.begin() + 1, w.shape.end() - 1);
  int64_t kn = static_cast<int64_t>(shape_size(ks));
  Host out{os, std::vector<double>(shape_size(os))};
  if (mag) *mag = out;
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    auto oc = coords(f, os);
    int64_t co = oc.back(), g = co / cog;
    double acc = 0, m = 0;
    for (int64_t kf = 0; kf < kn; ++kf) {
      auto kc = coords(kf, ks);
      std::vector<int64_t> xc(x.shape.size());
      xc[0] = oc[0];
      bool inside = true;
      for (size_t i = 0; i < ns; ++i) {
        xc[i + 1] = oc[i + 1] * sp.stride[i] - sp.pad_lo[i] + kc[i] * sp.dil[i];
        inside = inside && xc[i + 1] >= 0 && xc[i + 1] < x.shape[i + 1];
      }
      if (!inside) continue;
      xc.back() = g * cig;
      std::vector<int64_t> wc = {co};
      wc.insert(wc.end(), kc.begin(), kc.end());
      wc.push_back(0);
      const double* xp = x.data.data() + flat_of(xc, x.shape);  // channels are innermost
      const double* wp = w.data.data() + flat_of(wc, w.shape);
      for (int64_t c = 0; c < cig; ++c) {
        double p = xp[c] * wp[c];
        acc += p;
        m += std::abs(p);
      }
    }
    out[f] = acc;
    if (mag) (*mag)[f] = m;
  }
  return out;
}

// out[n, i*s - p + k*d .., co] += x[n, i.., g*cig + c] * w[co, k.., c].
Host ref_conv_transpose(const Host& x, const Host& w, const Spec& sp, Host* mag) {
  const size_t ns = x.shape.size() - 2;
  const int64_t cin = x.shape.back(), cout = w.shape[0], cig = cin / sp.groups,
                cog = cout / sp.groups;
  Shape os = x.shape;
  os.back() = cout;
  for (size_t i = 0; i < ns; ++i) {
    os[i + 1] = (x.shape[i + 1] - 1) * sp.stride[i] - 2 * sp.pad_lo[i] +
                sp.dil[i] * (w.shape[i + 1] - 1) + sp.out_pad[i] + 1;
  }
  Shape ks(w.shape.begin() + 1, w.shape.end() - 1);
  int64_t kn = static_cast<int64_t>(shape_size(ks));
  Host out{os, std::vector<double>(shape_size(os))};
  Host m = out;
  for (int64_t f = 0; f < static_cast<int64_t>(x.size()); ++f) {
    auto xc = coords(f, x.shape);
    int64_t ci = xc.back(), g = ci / cig;
    for (int64_t kf = 0; kf < kn; ++kf) {
      auto kc = coords(kf, ks);
      std::vector<int64_t> oc(os.size());
      oc[0] = xc[0];
      bool inside = true;
      for (size_t i = 0; i < ns; ++i) {
        oc[i + 1] = xc[i + 1] * sp.stride[i] - sp.pad_lo[i] + kc[i] * sp.dil[i];
        inside = inside && oc[i + 1] >= 0 && oc[i + 1] < os[i + 1];
      }
      if (!inside) continue;
      oc.back() = 0;
      const int64_t o0 = flat_of(oc, os);
      std::vector<int64_t> wc = {0};
      wc.insert(wc.end(), kc.begin(), kc.end());
      wc.push_back(ci - g * cig);
      const int64_t w0 = flat_of(wc, w.shape), wstride = static_cast<int64_t>(w.size()) / cout;
      for (int64_t co = g * cog; co < (g + 1) * cog; ++co) {
        double p = x[f] * w[w0 + co * wstride];
        out[o0 + co] += p;
        m[o0 + co] += std::abs(p);
      }
    }
  }
  if (mag) *mag = m;
  return out;
}

// Error bound: the output is rounded to dt once and accumulated in at least float32.
::testing::AssertionResult close_conv(const Host& got, const Host& want, const Host& mag,
                                      Dtype dt) {
  double c = dt == float64 ? 1e-13 : dt == float32 ? 2e-6 : dt == float16 ? 1.5e-3 : 1e-2;
  if (got.shape != want.shape) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(got.shape) << " != " << shape_str(want.shape);
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(got[i] - want[i]) <= c * (mag[i] + 1e-30) + 1e-300)) {
      return ::testing::AssertionFailure() << "[" << i << "] got " << got[i] << ", expected "
                                           << want[i] << " (scale " << mag[i] << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

struct Case {
  Shape x, w;
  Spec sp;
};

Array run_conv(const Array& x, const Array& w, const Spec& sp) {
  return conv_general(x, w, sp.stride, sp.pad_lo, sp.pad_hi, sp.dil, sp.groups);
}

Array run_transpose(const Array& x, const Array& w, const Spec& sp) {
  auto p2 = [](const std::vector<int>& v) { return std::make_pair(v[0], v[1]); };
  auto p3 = [](const std::vector<int>& v) { return std::array<int, 3>{v[0], v[1], v[2]}; };
  switch (x.ndim()) {
    case 3:
      return conv_transpose1d(x, w, sp.stride[0], sp.pad_lo[0], sp.dil[0], sp.out_pad[0],
                              sp.groups);
    case 4:
      return conv_transpose2d(x, w, p2(sp.stride), p2(sp.pad_lo), p2(sp.dil), p2(sp.out_pad),
                              sp.groups);
    default:
      return conv_transpose3d(x, w, p3(sp.stride), p3(sp.pad_lo), p3(sp.dil), p3(sp.out_pad),
                              sp.groups);
  }
}

std::string spec_str(const Case& c) {
  auto l = [](const std::vector<int>& v) {
    std::string s;
    for (int e : v) s += std::to_string(e) + ",";
    return s;
  };
  return "x " + shape_str(c.x) + " w " + shape_str(c.w) + " stride " + l(c.sp.stride) + " pad " +
         l(c.sp.pad_lo) + "/" + l(c.sp.pad_hi) + " dil " + l(c.sp.dil) + " groups " +
         std::to_string(c.sp.groups) + " out_pad " + l(c.sp.out_pad);
}

const Case forward_cases[] = {
    {{2, 9, 4}, {6, 3, 4}, {{1}, {0}, {0}, {1}, 1}},
    {{2, 11, 6}, {6, 3, 2}, {{2}, {1}, {1}, {2}, 3}},
    {{1, 7, 3}, {5, 1, 3}, {{1}, {0}, {0}, {1}, 1}},  // pointwise fast path
    {{2, 6, 7, 4}, {6, 3, 3, 4}, {{1, 1}, {1, 1}, {1, 1}, {1, 1}, 1}},
    {{2, 9, 8, 4}, {4, 3, 2, 2}, {{2, 3}, {1, 0}, {1, 0}, {1, 2}, 2}},
    {{1, 8, 8, 4}, {4, 3, 3, 1}, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, 4}},  // depthwise
    {{2, 5, 6, 4}, {6, 1, 1, 2}, {{1, 1}, {0, 0}, {0, 0}, {1, 1}, 2}},  // grouped pointwise
    {{1, 9, 9, 3}, {4, 3, 3, 3}, {{2, 2}, {0, 0}, {1, 1}, {1, 1}, 1}},  // VAE-style downsample
    {{1, 4, 3, 1, 2}, {3, 2, 2, 1, 2}, {{1, 1, 1}, {1, 0, 1}, {1, 0, 1}, {1, 1, 1}, 1}},
    {{2, 5, 4, 6, 4}, {4, 3, 1, 2, 2}, {{2, 1, 2}, {1, 0, 1}, {0, 2, 1}, {1, 1, 2}, 2}},
};

TEST(Conv, ForwardMatchesFloat64Reference) {
  uint64_t seed = 1;
  for (const Case& c : forward_cases) {
    for (Dtype dt : float_dtypes) {
      for (Layout layout : {Layout::contiguous, Layout::transposed, Layout::strided}) {
        Host x = random_host(c.x, dt, seed++), w = random_host(c.w, dt, seed++);
        Host mag;
        Host want = ref_conv(x, w, c.sp, &mag);
        Array y = run_conv(make_array(x, dt, layout), make_array(w, dt, layout), c.sp);
        EXPECT_EQ(y.dtype(), dt);
        EXPECT_TRUE(close_conv(to_host(y), want, mag, dt))
            << spec_str(c) << " " << dt.name() << " " << layout_name(layout);
      }
    }
  }
}

TEST(Conv, NamedWrappersMatchTheGeneralForm) {
  Host x1 = random_host({2, 10, 4}, float32, 5), w1 = random_host({6, 3, 2}, float32, 6);
  Host mag;
  Host want = ref_conv(x1, w1, {{2}, {1}, {1}, {2}, 2}, &mag);
  EXPECT_TRUE(
      close_conv(to_host(conv1d(make_array(x1, float32), make_array(w1, float32), 2, 1, 2, 2)),
                 want, mag, float32));
  Host x2 = random_host({1, 7, 6, 3}, float32, 7), w2 = random_host({2, 3, 2, 3}, float32, 8);
  want = ref_conv(x2, w2, {{1, 2}, {2, 1}, {2, 1}, {2, 1}, 1}, &mag);
  EXPECT_TRUE(close_conv(
      to_host(conv2d(make_array(x2, float32), make_array(w2, float32), {1, 2}, {2, 1}, {2, 1})),
      want, mag, float32));
  Host x3 = random_host({1, 4, 5, 3, 2}, float64, 9),
       w3 = random_host({2, 2, 3, 1, 2}, float64, 10);
  want = ref_conv(x3, w3, {{1, 2, 1}, {0, 1, 0}, {0, 1, 0}, {1, 1, 1}, 1}, &mag);
  EXPECT_TRUE(close_conv(
      to_host(conv3d(make_array(x3, float64), make_array(w3, float64), {1, 2, 1}, {0, 1, 0})), want,
      mag, float64));
}

TEST(Conv, LargeInputSpansSeveralColumnChunks) {
  // 64 x 64 outputs with a 3x3x128 window: the 16 MiB im2col buffer is filled twice.
  Host x = random_host({1, 64, 64, 128}, float32, 11), w = random_host({2, 3, 3, 128}, float32, 12);
  Spec sp{{1, 1}, {1, 1}, {1, 1}, {1, 1}, 1};
  Host mag;
  Host want = ref_conv(x, w, sp, &mag);
  EXPECT_TRUE(close_conv(to_host(run_conv(make_array(x, float32), make_array(w, float32), sp)),
                         want, mag, float32));
  // 72 x 72 inputs with 16 taps x 64 channels of products per input row: two chunks.
  Host xt = random_host({1, 72, 72, 4}, float32, 13), wt = random_host({64, 4, 4, 4}, float32, 14);
  Spec st{{2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
  want = ref_conv_transpose(xt, wt, st, &mag);
  EXPECT_TRUE(
      close_conv(to_host(run_transpose(make_array(xt, float32), make_array(wt, float32), st)), want,
                 mag, float32));
}

TEST(Conv, MixedDtypesPromote) {
  Host x = random_host({1, 6, 6, 2}, bfloat16, 15), w = random_host({3, 3, 3, 2}, float32, 16);
  Spec sp{{1, 1}, {0, 0}, {0, 0}, {1, 1}, 1};
  Array y = run_conv(make_array(x, bfloat16), make_array(w, float32), sp);
  EXPECT_EQ(y.dtype(), float32);
  Host mag;
  Host want = ref_conv(x, w, sp, &mag);
  EXPECT_TRUE(close_conv(to_host(y), want, mag, float32));
}

const Case transpose_cases[] = {
    {{2, 5, 4}, {3, 3, 4}, {{1}, {0}, {}, {1}, 1, {0}}},
    {{2, 6, 4}, {6, 4, 2}, {{2}, {1}, {}, {1}, 2, {1}}},
    {{1, 5, 3}, {2, 3, 3}, {{3}, {2}, {}, {2}, 1, {2}}},
    {{2, 4, 5, 4}, {6, 3, 3, 4}, {{2, 2}, {1, 1}, {}, {1, 1}, 1, {1, 0}}},
    {{1, 5, 4, 6}, {4, 2, 3, 3}, {{1, 2}, {0, 1}, {}, {2, 1}, 2, {1, 1}}},
    {{1, 3, 3, 4}, {4, 4, 4, 1}, {{2, 2}, {1, 1}, {}, {1, 1}, 4, {0, 0}}},
    {{1, 3, 2, 4, 2}, {3, 2, 2, 3, 2}, {{2, 1, 2}, {0, 1, 1}, {}, {1, 2, 1}, 1, {1, 0, 1}}},
};

TEST(Conv, TransposeMatchesScatterDefinition) {
  uint64_t seed = 100;
  for (const Case& c : transpose_cases) {
    for (Dtype dt : float_dtypes) {
      for (Layout layout : {Layout::contiguous, Layout::transposed, Layout::offset}) {
        Host x = random_host(c.x, dt, seed++), w = random_host(c.w, dt, seed++);
        Host mag;
        Host want = ref_conv_transpose(x, w, c.sp, &mag);
        Array y = run_transpose(make_array(x, dt, layout), make_array(w, dt, layout), c.sp);
        EXPECT_EQ(y.dtype(), dt);
        EXPECT_TRUE(close_conv(to_host(y), want, mag, dt))
            << spec_str(c) << " " << dt.name() << " " << layout_name(layout);
      }
    }
  }
}

// Swaps the channel roles within each group: wt[g*cig + c, k.., co] = w[g*cog + co, k.., c].
Host group_transpose(const Host& w, int groups, int64_t cin) {
  const int64_t cout = w.shape[0], cig = cin / groups, cog = cout / groups;
  Shape ts = w.shape;
  ts[0] = cin;
  ts.back() = cog;
  Host t{ts, std::vector<double>(w.size())};
  for (int64_t f = 0; f < static_cast<int64_t>(w.size()); ++f) {
    auto c = coords(f, w.shape);
    int64_t co = c[0], g = co / cog, ci = c.back();
    c[0] = g * cig + ci;
    c.back() = co - g * cog;
    t[flat_of(c, ts)] = w[f];
  }
  return t;
}

TEST(Conv, TransposeIsTheAdjointOfConv) {
  uint64_t seed = 300;
  for (const Case& c : forward_cases) {
    if (c.sp.pad_lo != c.sp.pad_hi) continue;  // conv_transpose pads symmetrically
    Host x = random_host(c.x, float64, seed++), w = random_host(c.w, float64, seed++);
    Array y = run_conv(make_array(x, float64), make_array(w, float64), c.sp);
    Host r = random_host(y.shape(), float64, seed++);
    Spec t = c.sp;
    t.out_pad.clear();
    for (size_t i = 0; i < c.sp.stride.size(); ++i) {
      int64_t span = c.x[i + 1] + 2 * c.sp.pad_lo[i] - c.sp.dil[i] * (c.w[i + 1] - 1) - 1;
      t.out_pad.push_back(static_cast<int>(span % c.sp.stride[i]));
    }
    Host wt = group_transpose(w, c.sp.groups, c.x.back());
    Array back = run_transpose(make_array(r, float64), make_array(wt, float64), t);
    ASSERT_EQ(back.shape(), c.x) << spec_str(c);
    Host yh = to_host(y), bh = to_host(back);
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < yh.size(); ++i) lhs += yh[i] * r[i], scale += std::abs(yh[i] * r[i]);
    for (size_t i = 0; i < x.size(); ++i) rhs += x[i] * bh[i];
    EXPECT_NEAR(lhs, rhs, 1e-12 * scale) << spec_str(c);
  }
}

TEST(Conv, UpsampleNearestRepeatsEachValue) {
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      Host x = random_host({2, 3, 4, 5}, dt, 400);
      Array y = upsample_nearest(make_array(x, dt, layout), {2, 3});
      Host want{{2, 6, 12, 5}, std::vector<double>(2 * 6 * 12 * 5)};
      for (int64_t f = 0; f < static_cast<int64_t>(want.size()); ++f) {
        auto c = coords(f, want.shape);
        want[f] = x[flat_of({c[0], c[1] / 2, c[2] / 3, c[3]}, x.shape)];
      }
      EXPECT_TRUE(close(to_host(y), want, {0, 0})) << dt.name() << " " << layout_name(layout);
    }
  }
  Host x1 = random_host({1, 3, 2}, float32, 401);
  Host want1{{1, 12, 2}, {}};
  for (int i = 0; i < 12; ++i)
    for (int c = 0; c < 2; ++c) want1.data.push_back(x1[(i / 4) * 2 + c]);
  EXPECT_TRUE(close(to_host(upsample_nearest(make_array(x1, float32), {4})), want1, {0, 0}));
  EXPECT_EQ(upsample_nearest(zeros({1, 2, 3, 4, 5}), {2}).shape(), (Shape{1, 4, 6, 8, 5}));
}

TEST(Conv, EmptyBatchGivesEmptyOutput) {
  Array y = conv2d(zeros({0, 5, 5, 2}), ones({3, 3, 3, 2}));
  EXPECT_EQ(y.shape(), (Shape{0, 3, 3, 3}));
  EXPECT_EQ(to_host(y).size(), 0u);
}

TEST(Conv, BadInputThrowsNamingTheOp) {
  auto expect_error = [](auto f, const char* op, const char* what) {
    try {
      f();
      ADD_FAILURE() << "no error for " << op << ": " << what;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(std::string("[") + op + "]"), std::string::npos) << m;
      EXPECT_NE(m.find(what), std::string::npos) << m;
    }
  };
  Array x = zeros({1, 8, 8, 4});
  expect_error([&] { conv2d(x, zeros({2, 3, 3, 3})); }, "conv2d", "input channels per group");
  expect_error(
      [&] {
        conv2d(x, zeros({3, 3, 3, 2}), {1, 1}, {0, 0}, {1, 1}, 2);
      },
      "conv2d", "groups do not divide");
  expect_error(
      [&] {
        conv2d(x, zeros({4, 3, 3, 1}), {1, 1}, {0, 0}, {1, 1}, 3);
      },
      "conv2d", "groups do not divide");
  expect_error([&] { conv2d(x, zeros({2, 9, 3, 4})); }, "conv2d", "larger than the padded input");
  expect_error(
      [&] {
        conv2d(x, zeros({2, 3, 3, 4}), {1, 1}, {0, 0}, {4, 4});
      },
      "conv2d", "larger than the padded input");
  expect_error([&] { conv2d(x, zeros({2, 3, 3, 4}), {0, 1}); }, "conv2d", "stride");
  expect_error([&] { conv2d(x, zeros({2, 3, 3, 4}), {1, 1}, {-1, 0}); }, "conv2d", "padding");
  expect_error([&] { conv1d(x, zeros({2, 3, 4})); }, "conv1d", "weight must have");
  expect_error([&] { conv1d(zeros({8, 4}), zeros({2, 3, 4})); }, "conv1d", "input must be");
  expect_error(
      [&] {
        conv1d(zeros({1, 8, 4}, int32), zeros({2, 3, 4}, int32));
      },
      "conv1d", "floating");
  expect_error(
      [&] {
        conv_general(zeros({1, 8, 4}), zeros({2, 3, 4}), {1, 1}, {0}, {0}, {1});
      },
      "conv_general", "stride needs 1 values");
  expect_error(
      [&] {
        conv_transpose1d(zeros({1, 8, 4}), zeros({2, 3, 4}), 2, 0, 1, 2);
      },
      "conv_transpose1d", "output_padding");
  expect_error(
      [&] {
        conv_transpose1d(zeros({1, 2, 4}), zeros({2, 3, 4}), 1, 3);
      },
      "conv_transpose1d", "leaves no output");
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({2, 3, 3, 3}));
      },
      "conv_transpose2d", "input channels per group");
  expect_error([&] { upsample_nearest(x, {2, 0}); }, "upsample_nearest", "scale");
  expect_error([&] { upsample_nearest(x, {2, 2, 2}); }, "upsample_nearest", "scale needs 2");
  expect_error([&] { upsample_nearest(zeros({4, 4}), {2}); }, "upsample_nearest", "input must be");
}

}  // namespace
}  // namespace lathe::testing
