// compile(): fused results against float64 references written here and bit
// for bit against the unfused graph; simplification, trace cache, memory, errors.
#include <cmath>
#include <cstring>

#include "core/compile_support.h"
#include "support/harness.h"

namespace lathe::testing {
namespace {

// numpy broadcasting of any number of hosts through f.
Host broadcast_map(const std::vector<Host>& xs,
                   const std::function<double(const std::vector<double>&)>& f) {
  size_t nd = 0;
  for (auto& x : xs) nd = std::max(nd, x.shape.size());
  Shape out(nd, 1);
  for (auto& x : xs) {
    for (size_t i = 0; i < x.shape.size(); ++i) {
      int64_t& d = out[nd - x.shape.size() + i];
      d = std::max(d, x.shape[i]);
    }
  }
  Host r{out, std::vector<double>(shape_size(out))};
  std::vector<double> args(xs.size());
  for (size_t flat = 0; flat < r.size(); ++flat) {
    for (size_t k = 0; k < xs.size(); ++k) {
      const Shape& s = xs[k].shape;
      size_t rem = flat, off = 0, mul = 1;
      for (int d = static_cast<int>(nd) - 1; d >= 0; --d) {
        int64_t coord = static_cast<int64_t>(rem % out[d]);
        rem /= out[d];
        int hd = d - static_cast<int>(nd - s.size());
        if (hd >= 0) {
          off += (s[hd] == 1 ? 0 : coord) * mul;
          mul *= s[hd];
        }
      }
      args[k] = xs[k][off];
    }
    r[flat] = f(args);
  }
  return r;
}

Array gelu_tanh_chain(const Array& x) {
  Array inner = (x + x * x * x * 0.044715f) * 0.7978845608f;
  return x * 0.5f * (tanh(inner) + 1.0f);
}
double ref_gelu_tanh_chain(double x) {
  // The chain's constants are float32 literals: the float64 run sees them widened.
  double inner = (x + x * x * x * double(0.044715f)) * double(0.7978845608f);
  return x * 0.5 * (std::tanh(inner) + 1.0);
}

TEST(Compile, GeluChainIsOneKernelMatchingReferenceAndUnfused) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    return std::vector<Array>{gelu_tanh_chain(in[0])};
  };
  uint64_t seed = 10;
  for (Dtype dt : float_dtypes) {
    for (Layout layout : all_layouts) {
      auto cf = compile(fn);
      Host x = random_host({7, 300}, dt, seed++, -4, 4);
      Results r = run_both(fn, cf, {make_array(x, dt, layout)});
      Tol tol = default_tol(dt);
      tol.rtol *= 8;
      tol.atol *= 8;
      EXPECT_TRUE(close(r.compiled[0], map(x, ref_gelu_tanh_chain), tol))
          << dt.name() << " " << layout_name(layout);
      // 16-bit floats round after every op in both forms, so they agree exactly too.
      EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]))
          << dt.name() << " " << layout_name(layout);
      TraceInfo info = cf.last_trace();
      EXPECT_EQ(info.fused_kernels, 1u) << dt.name();
      EXPECT_EQ(info.nodes, 1u) << dt.name();
    }
  }
}

TEST(Compile, SiluGatingWithBroadcastAndMixedLayouts) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    return std::vector<Array>{silu(in[0]) * in[1]};
  };
  auto cf = compile(fn);
  uint64_t seed = 40;
  for (Dtype dt : {float32, float64, bfloat16}) {
    Host g = random_host({4, 33, 20}, dt, seed++, -5, 5);
    Host u = random_host({33, 20}, dt, seed++, -2, 2);
    Results r = run_both(
        fn, cf, {make_array(g, dt, Layout::transposed), make_array(u, dt, Layout::strided)});
    Host want = zip(g, u, [](double a, double b) { return a / (1 + std::exp(-a)) * b; });
    Tol tol = default_tol(dt);
    tol.rtol *= 4;
    tol.atol *= 4;
    EXPECT_TRUE(close(r.compiled[0], want, tol)) << dt.name();
    EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0])) << dt.name();
  }
}

TEST(Compile, WhereAndComparisons) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    const Array& x = in[0];
    const Array& y = in[1];
    Array pick = where(logical_and(x > y, abs(x) < 1.5f), x - y, y * 2.0f);
    return std::vector<Array>{pick, x >= y};
  };
  auto cf = compile(fn);
  Host x = random_host({5, 1, 70}, float32, 3, -2, 2);
  Host y = random_host({6, 70}, float32, 4, -2, 2);
  Results r = run_both(fn, cf, {make_array(x, float32, Layout::offset), make_array(y, float32)});
  Host want =
      zip(x, y, [](double a, double b) { return (a > b && std::abs(a) < 1.5) ? a - b : b * 2.0; });
  EXPECT_TRUE(close(r.compiled[0], want, default_tol(float32)));
  EXPECT_TRUE(
      close(r.compiled[1], zip(x, y, [](double a, double b) { return double(a >= b); }), {0, 0}));
  EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]));
  EXPECT_TRUE(bitwise_equal(r.compiled[1], r.plain[1]));
}

TEST(Compile, MixedDtypesWithAstype) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    Array h = astype(in[0], float32);              // float16 -> float32
    Array i = astype(in[1], float32);              // int32 -> float32
    Array q = floor_divide(in[1], 3) + in[1] % 4;  // stays int32
    Array y = astype(h * i + astype(q, float32), bfloat16);
    return std::vector<Array>{y, q, astype(in[1] > 0, int8)};
  };
  auto cf = compile(fn);
  Host a = random_host({9, 40}, float16, 5, -3, 3);
  Host b = random_host({9, 40}, int32, 6, -50, 50);
  Results r = run_both(fn, cf, {make_array(a, float16), make_array(b, int32, Layout::transposed)});
  auto fdiv = [](double p, double q) { return std::floor(p / q); };
  auto fmod = [](double p, double q) { return p - q * std::floor(p / q); };
  Host q = map(b, [&](double v) { return fdiv(v, 3) + fmod(v, 4); });
  Host want = a;
  for (size_t k = 0; k < want.size(); ++k) {
    want[k] = a[k] * b[k] + q[k];  // exact in float32 for these magnitudes
  }
  EXPECT_TRUE(close(r.compiled[0], round_to(want, bfloat16), {0, 0}));
  EXPECT_TRUE(close(r.compiled[1], q, {0, 0}));
  EXPECT_TRUE(close(r.compiled[2], map(b, [](double v) { return double(v > 0); }), {0, 0}));
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(bitwise_equal(r.compiled[k], r.plain[k])) << k;
}

TEST(Compile, ThreeWayBroadcastAcrossBlocks) {
  // Rows of 1000 elements cross the 256-element blocks; inputs broadcast three ways.
  ArrayFunction fn = [](const std::vector<Array>& in) {
    return std::vector<Array>{exp(in[0] * in[1]) - in[2] / 3.0f};
  };
  auto cf = compile(fn);
  Host a = random_host({3, 1, 1000}, float32, 7, -1, 1);
  Host b = random_host({4, 1}, float32, 8, -1, 1);
  Host c = random_host({}, float32, 9, -1, 1);
  Results r = run_both(fn, cf,
                       {make_array(a, float32, Layout::strided), make_array(b, float32),
                        array(c.data, {}, float32)});
  Host want = broadcast_map(
      {a, b, c}, [](const std::vector<double>& v) { return std::exp(v[0] * v[1]) - v[2] / 3.0; });
  EXPECT_TRUE(close(r.compiled[0], want, default_tol(float32)));
  EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]));
}

TEST(Compile, IntermediateOutputsBoundRegions) {
  // y is returned and read by z: it must be computed once and stay its own node.
  ArrayFunction fn = [](const std::vector<Array>& in) {
    Array y = exp(in[0]);
    Array z = (y * 2.0f + 1.0f) * y;
    Array t = transpose(z) + 1.0f;  // a view between two regions
    return std::vector<Array>{y, z, t, in[0]};
  };
  auto cf = compile(fn);
  Host x = random_host({6, 9}, float32, 11, -1, 1);
  Results r = run_both(fn, cf, {make_array(x, float32)});
  Host y = map(x, [](double v) { return std::exp(v); });
  Host z = map(x, [](double v) { return (std::exp(v) * 2 + 1) * std::exp(v); });
  EXPECT_TRUE(close(r.compiled[0], y, default_tol(float32)));
  EXPECT_TRUE(close(r.compiled[1], z, default_tol(float32)));
  Host t{{9, 6}, std::vector<double>(54)};
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 9; ++j) t[j * 6 + i] = z[i * 9 + j] + 1;
  EXPECT_TRUE(close(r.compiled[2], t, default_tol(float32)));
  EXPECT_TRUE(close(r.compiled[3], x, {0, 0}));
  for (size_t k = 0; k < 4; ++k) EXPECT_TRUE(bitwise_equal(r.compiled[k], r.plain[k])) << k;
  TraceInfo info = cf.last_trace();
  EXPECT_EQ(info.traced_nodes, 6u);   // exp, mul, add, mul, transpose, add
  EXPECT_EQ(info.fused_kernels, 1u);  // (y*2+1)*y; exp, transpose and the last add stay single
  EXPECT_EQ(info.nodes, 4u);
}

TEST(Compile, CommonSubexpressionsAndScalarsAreMerged) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    const Array& x = in[0];
    Array a = (x + 1.0f) * (x + 1.0f);  // two scalar 1.0f nodes, two adds
    Array b = exp(x) + exp(x);
    return std::vector<Array>{a + b * 2.0f};
  };
  auto cf = compile(fn);
  Host x = random_host({100}, float32, 12, -1, 1);
  Results r = run_both(fn, cf, {make_array(x, float32)});
  EXPECT_TRUE(
      close(r.compiled[0],
            map(x, [](double v) { return (v + 1) * (v + 1) + 2 * (std::exp(v) + std::exp(v)); }),
            default_tol(float32)));
  EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]));
  TraceInfo info = cf.last_trace();
  EXPECT_EQ(info.traced_nodes, 8u);
  EXPECT_EQ(info.simplified_nodes, 6u);  // one add(x, 1) and one exp(x) fewer
  EXPECT_EQ(info.constants, 2u);         // 1.0f and 2.0f
  EXPECT_EQ(info.nodes, 1u);
  EXPECT_EQ(info.fused_kernels, 1u);
}

TEST(Compile, NewShapeRetracesUnlessShapeless) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    return std::vector<Array>{in[0] * in[0] + 1.0f};
  };
  auto fixed = compile(fn);
  auto generic = compile(fn, /*shapeless=*/true);
  for (int64_t n : {4, 5, 4, 9}) {
    Host x = random_host({2, n}, float32, 13 + n, -1, 1);
    Array a = make_array(x, float32);
    keep(a);
    Host want = map(x, [](double v) { return v * v + 1; });
    EXPECT_TRUE(close(to_host(fixed({a})[0]), want, default_tol(float32)));
    EXPECT_TRUE(close(to_host(generic({a})[0]), want, default_tol(float32)));
  }
  EXPECT_EQ(fixed.num_traces(), 3u);
  EXPECT_EQ(generic.num_traces(), 1u);
  // Another dtype or ndim is another signature even when shapeless.
  Array b = ones({3}, float64);
  EXPECT_EQ(generic({b})[0].dtype(), float64);
  EXPECT_EQ(generic.num_traces(), 2u);
}

TEST(Compile, ShapelessRetracesAroundShapeDependentOps) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    return std::vector<Array>{transpose(exp(in[0])) * 2.0f};
  };
  auto cf = compile(fn, true);
  for (int64_t n : {3, 5}) {
    Host x = random_host({2, n}, float32, 20 + n, -1, 1);
    Host want{{n, 2}, std::vector<double>(2 * n)};
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < n; ++j) want[j * 2 + i] = std::exp(x[i * n + j]) * 2;
    EXPECT_TRUE(close(to_host(cf({make_array(x, float32)})[0]), want, default_tol(float32)));
  }
  EXPECT_EQ(cf.num_traces(), 2u);
}

TEST(Compile, ShapelessBroadcastMismatchThrows) {
  auto cf =
      compile([](const std::vector<Array>& in) { return std::vector<Array>{in[0] + in[1]}; }, true);
  cf({ones({2, 3}), ones({1, 3})});
  EXPECT_THROW(cf({ones({2, 3}), ones({4, 3})}), Error);
}

TEST(Compile, TraceCacheIsBounded) {
  auto cf = compile([](const std::vector<Array>& in) { return std::vector<Array>{in[0] - 1.0f}; });
  const size_t cap = CompiledFunction::max_cached_traces;
  for (size_t n = 1; n <= cap + 6; ++n) cf({zeros({static_cast<int64_t>(n)})});
  EXPECT_EQ(cf.cache_size(), cap);
  EXPECT_EQ(cf.num_traces(), cap + 6);
  cf({zeros({static_cast<int64_t>(cap + 6)})});  // recent: cached
  EXPECT_EQ(cf.num_traces(), cap + 6);
  cf({zeros({1})});  // evicted: traced again
  EXPECT_EQ(cf.num_traces(), cap + 7);
  EXPECT_EQ(cf.cache_size(), cap);
}

TEST(Compile, MemoryStaysFlatOverAThousandCalls) {
  ArrayFunction fn = [](const std::vector<Array>& in) {
    Array h = tanh(in[0] * in[1]) + in[0];
    return std::vector<Array>{h, sigmoid(h) * 3.0f};
  };
  auto cf = compile(fn);
  Array x = ones({64, 64}) * 0.5f;
  Array w = full({64}, 0.25);
  eval(x, w);
  auto step = [&] {
    std::vector<Array> out = cf({x, w});
    eval(out);
    EXPECT_NEAR(out[1].to_vector<float>()[0], 3.0 / (1 + std::exp(-(std::tanh(0.125) + 0.5))),
                1e-5);
  };
  for (int i = 0; i < 5; ++i) step();
  LiveArrays before = live_arrays();
  size_t mem = active_memory(test_device());
  for (int i = 0; i < 1000; ++i) step();
  LiveArrays after = live_arrays();
  EXPECT_EQ(after.kept, before.kept);
  EXPECT_EQ(after.unkept, before.unkept);
  EXPECT_EQ(active_memory(test_device()), mem);
  EXPECT_EQ(cf.num_traces(), 1u);
}

TEST(Compile, OnlyOutputsAreTracked) {
  auto cf = compile([](const std::vector<Array>& in) {
    Array a = in[0];
    for (int i = 0; i < 20; ++i) a = a * 1.01f + 0.5f;
    return std::vector<Array>{a};
  });
  Array x = ones({8});
  keep(x);
  LiveArrays before = live_arrays();
  Array y = cf({x})[0];
  LiveArrays after = live_arrays();
  EXPECT_EQ(after.unkept, before.unkept + 1);
  double want = 1;
  for (int i = 0; i < 20; ++i) want = static_cast<float>(static_cast<float>(want * 1.01f) + 0.5f);
  EXPECT_FLOAT_EQ(y.to_vector<float>()[7], static_cast<float>(want));
  // Like any array, an unkept output is freed by the next eval.
  Array z = cf({x})[0];
  eval();
  EXPECT_FALSE(z.valid());
}

TEST(Compile, DonatedIntermediateInput) {
  // contiguous(transpose(x)) is a fresh buffer the region may overwrite in place.
  ArrayFunction fn = [](const std::vector<Array>& in) {
    Array c = contiguous(transpose(in[0]));
    return std::vector<Array>{exp(c) * 2.0f - c};
  };
  auto cf = compile(fn);
  Host x = random_host({16, 40}, float32, 30, -1, 1);
  Results r = run_both(fn, cf, {make_array(x, float32)});
  Host want{{40, 16}, std::vector<double>(640)};
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 40; ++j) {
      double v = x[i * 40 + j];
      want[j * 16 + i] = std::exp(v) * 2 - v;
    }
  EXPECT_TRUE(close(r.compiled[0], want, default_tol(float32)));
  EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]));
}

TEST(Compile, CapturedArraysAreConstants) {
  Array bias = array({1.0f, 2.0f, 3.0f});
  keep(bias);
  auto cf = compile([bias](const std::vector<Array>& in) {
    return std::vector<Array>{in[0] * 2.0f + bias, bias};
  });
  for (int i = 0; i < 3; ++i) {
    Array x = full({2, 3}, static_cast<double>(i));
    std::vector<Array> out = cf({x});
    EXPECT_EQ(out[0].to_vector<float>(),
              (std::vector<float>{2.f * i + 1, 2.f * i + 2, 2.f * i + 3, 2.f * i + 1, 2.f * i + 2,
                                  2.f * i + 3}));
    EXPECT_EQ(out[1].to_vector<float>(), (std::vector<float>{1, 2, 3}));
    out[1].free();  // frees the returned view, never the trace's constant
    eval();
  }
  EXPECT_EQ(cf.num_traces(), 1u);
}

TEST(Compile, MatmulStaysItsOwnNodeBetweenFusedRegions) {
  // The gated MLP shape: silu(x @ wg) * (x @ wu); the gating fuses, the matmuls stay.
  ArrayFunction fn = [](const std::vector<Array>& in) {
    return std::vector<Array>{silu(matmul(in[0], in[1])) * matmul(in[0], in[2])};
  };
  auto cf = compile(fn);
  Host x = random_host({5, 12}, float32, 50, -1, 1);
  Host wg = random_host({12, 7}, float32, 51, -1, 1);
  Host wu = random_host({12, 7}, float32, 52, -1, 1);
  Results r = run_both(fn, cf,
                       {make_array(x, float32), make_array(wg, float32),
                        make_array(wu, float32, Layout::transposed)});
  Host want{{5, 7}, std::vector<double>(35)};
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 7; ++j) {
      double g = 0, u = 0;
      for (int k = 0; k < 12; ++k) {
        g += x[i * 12 + k] * wg[k * 7 + j];
        u += x[i * 12 + k] * wu[k * 7 + j];
      }
      want[i * 7 + j] = g / (1 + std::exp(-g)) * u;
    }
  }
  EXPECT_TRUE(close(r.compiled[0], want, {1e-5, 1e-5}));
  EXPECT_TRUE(bitwise_equal(r.compiled[0], r.plain[0]));
  TraceInfo info = cf.last_trace();
  EXPECT_EQ(info.nodes, 3u);
  EXPECT_EQ(info.fused_kernels, 1u);
}

TEST(Compile, NestedCompiledFunctions) {
  auto inner = compile(
      [](const std::vector<Array>& in) { return std::vector<Array>{exp(in[0]) * 0.5f + 1.0f}; });
  auto outer = compile([inner](const std::vector<Array>& in) {
    return std::vector<Array>{inner({in[0] * 2.0f})[0] - in[0]};
  });
  Host x = random_host({3, 10}, float32, 60, -1, 1);
  Array a = make_array(x, float32);
  keep(a);
  EXPECT_TRUE(close(to_host(outer({a})[0]),
                    map(x, [](double v) { return std::exp(2 * v) * 0.5 + 1 - v; }),
                    default_tol(float32)));
  EXPECT_EQ(inner.num_traces(), 1u);
  EXPECT_EQ(outer.num_traces(), 1u);
}

::testing::AssertionResult throws_compile_error(const std::function<void()>& f,
                                                const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.rfind("[compile]", 0) == 0 && m.find(needle) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "message: " << m;
  }
  return ::testing::AssertionFailure() << "no lathe::Error";
}

TEST(Compile, BadInputErrors) {
  auto none = compile([](const std::vector<Array>&) { return std::vector<Array>{}; });
  EXPECT_TRUE(throws_compile_error([&] { none({ones({2})}); }, "no arrays"));

  auto add =
      compile([](const std::vector<Array>& in) { return std::vector<Array>{in[0] + in[1]}; });
  add({ones({2}), ones({2})});
  EXPECT_TRUE(throws_compile_error([&] { add({ones({2})}); }, "takes 2 inputs, got 1"));

  Array a = ones({2});
  Array b = ones({2});
  eval(b);  // frees a: it was not kept
  EXPECT_TRUE(throws_compile_error([&] { add({a, b}); }, "was freed"));

  Array w = ones({2});  // captured but never kept
  auto uses_w =
      compile([w](const std::vector<Array>& in) { return std::vector<Array>{in[0] * w}; });
  Array x = ones({2});
  keep(x);
  uses_w({x});
  eval();  // frees w
  EXPECT_TRUE(throws_compile_error([&] { uses_w({x}); }, "captured was freed"));

  auto evaluates = compile([](const std::vector<Array>& in) {
    float v = (in[0] * 2.0f).to_vector<float>()[0];
    return std::vector<Array>{in[0] + v};
  });
  EXPECT_TRUE(throws_compile_error([&] { evaluates({x}); }, "cannot be evaluated"));
  EXPECT_THROW(compile(ArrayFunction{}), Error);
}

}  // namespace
}  // namespace lathe::testing
