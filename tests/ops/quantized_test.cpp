// Quantization against references written here from the documented formats
// (lathe/ops/quantized.h): hand-packed codes, the MLX affine rule in float32,
// float64 products of independently unpacked weights, every E2M1 code.
#include <cmath>
#include <limits>
#include <optional>

#include "support/harness.h"

namespace lathe::testing {
namespace {

// Code j of a little-endian bit stream of `bits`-bit codes.
uint32_t stream_code(const std::vector<uint8_t>& bytes, size_t row_offset, int64_t j, int bits) {
  uint32_t v = 0;
  for (int b = 0; b < bits; ++b) {
    int64_t bit = j * bits + b;
    v |= uint32_t((bytes[row_offset + bit / 8] >> (bit % 8)) & 1) << b;
  }
  return v;
}

std::vector<uint8_t> bytes_of_u32(const std::vector<uint32_t>& w) {
  std::vector<uint8_t> b;
  for (uint32_t x : w)
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(x >> (8 * i)));
  return b;
}

// The float64 matrix an affine (wq, scales, biases) triple stands for.
Host ref_dequantize(Array wq, Array scales, Array biases, int gs, int bits) {
  std::vector<uint8_t> bytes = bytes_of_u32(wq.to_vector<uint32_t>());
  std::vector<double> s = scales.to_vector<double>(), b = biases.to_vector<double>();
  int64_t row_words = wq.shape(-1);
  int64_t k = row_words * 32 / bits;
  int64_t rows = int64_t(wq.size()) / row_words;
  Shape shape = wq.shape();
  shape.back() = k;
  Host h{shape, std::vector<double>(rows * k)};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      int64_t g = r * (k / gs) + j / gs;
      h[r * k + j] = s[g] * stream_code(bytes, r * row_words * 4, j, bits) + b[g];
    }
  return h;
}

// y = x @ w.T (or x @ w) in float64 with the error scale sum |x*w|.
struct Ref {
  Host value, magnitude;
};
Ref ref_product(const Host& x, const Host& w, bool transpose) {
  int64_t k = x.shape.back(), m = int64_t(x.size()) / k;
  int64_t n = transpose ? w.shape[0] : w.shape[1];
  Shape out = x.shape;
  out.back() = n;
  Ref r{{out, std::vector<double>(m * n)}, {out, std::vector<double>(m * n)}};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, a = 0;
      for (int64_t t = 0; t < k; ++t) {
        double p = x[i * k + t] * (transpose ? w[j * k + t] : w[t * n + j]);
        s += p;
        a += std::abs(p);
      }
      r.value[i * n + j] = s;
      r.magnitude[i * n + j] = a;
    }
  return r;
}

::testing::AssertionResult close_product(const Host& got, const Ref& want, Dtype dt) {
  double out = dt == float32 ? 1e-7 : dt == float16 ? 1.0 / 1024 : 1.0 / 128;
  if (got.shape != want.value.shape) {
    return ::testing::AssertionFailure()
           << shape_str(got.shape) << " != " << shape_str(want.value.shape);
  }
  for (size_t i = 0; i < got.size(); ++i) {
    double bound = 2e-5 * want.magnitude[i] + out * std::abs(want.value[i]) + 1e-30;
    if (!(std::abs(got[i] - want.value[i]) <= bound)) {
      return ::testing::AssertionFailure() << "[" << i << "] got " << got[i] << ", expected "
                                           << want.value[i] << " (bound " << bound << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(Quantized, HandPackedWordsDequantizeExactly) {
  // bits 4: word 0x76543210 holds codes 0..7, 0xfedcba98 codes 8..15 (low nibble first).
  std::vector<uint32_t> w4 = {0x76543210u, 0xfedcba98u, 0x01234567u, 0x89abcdefu};
  Array s = array<float>({0.25f}, {1, 1}), b = array<float>({-1.5f}, {1, 1});
  std::vector<float> got = dequantize(array(w4, {1, 4}), s, b, 32, 4).to_vector<float>();
  std::vector<int> codes = {0, 1, 2, 3, 4, 5, 6, 7, 8,  9,  10, 11, 12, 13, 14, 15,
                            7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9,  8};
  ASSERT_EQ(got.size(), 32u);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(got[j], 0.25f * codes[j] - 1.5f) << j;
  // bits 8: one byte per code, little-endian within the word.
  std::vector<uint32_t> w8(8, 0);
  w8[0] = 0x04030201u;
  w8[7] = 0xff000080u;
  got = dequantize(array(w8, {1, 8}), array<float>({2.0f}, {1, 1}), array<float>({1.0f}, {1, 1}),
                   32, 8)
            .to_vector<float>();
  EXPECT_EQ(got[0], 3.0f);
  EXPECT_EQ(got[3], 9.0f);
  EXPECT_EQ(got[28], 257.0f);  // 0x80
  EXPECT_EQ(got[31], 511.0f);  // 0xff
  // bits 3: codes 1, 2, ..., 7, 0 fill the low 24 bits, code j at bits [3j, 3j+3).
  std::vector<uint32_t> w3(3, 0);
  uint32_t stream = 0;
  for (int j = 0; j < 8; ++j) stream |= uint32_t((j + 1) % 8) << (3 * j);
  w3[0] = stream;
  got = dequantize(array(w3, {1, 3}), array<float>({1.0f}, {1, 1}), array<float>({0.0f}, {1, 1}),
                   32, 3)
            .to_vector<float>();
  for (int j = 0; j < 8; ++j) EXPECT_EQ(got[j], float((j + 1) % 8)) << j;
  for (int j = 8; j < 32; ++j) EXPECT_EQ(got[j], 0.0f) << j;
}

TEST(Quantized, DequantizeMatchesBitStreamReferenceAllBits) {
  uint64_t seed = 5;
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int gs : {32, 64, 128}) {
      std::mt19937_64 rng(seed++);
      int64_t rows = 3, k = 256, words = k * bits / 32;
      std::vector<uint32_t> wq(rows * words);
      for (auto& v : wq) v = uint32_t(rng());
      Host s = random_host({rows, k / gs}, bfloat16, seed++, -1, 1);
      Host b = random_host({rows, k / gs}, bfloat16, seed++, -3, 3);
      Array a_wq = array(wq, {rows, words});
      Array a_s = make_array(s, bfloat16), a_b = make_array(b, bfloat16);
      Array d = dequantize(a_wq, a_s, a_b, gs, bits, "affine", float32);
      EXPECT_TRUE(close(to_host(d), ref_dequantize(a_wq, a_s, a_b, gs, bits), {1e-7, 1e-7}))
          << "bits " << bits << " gs " << gs;
      EXPECT_EQ(dequantize(a_wq, a_s, a_b, gs, bits).dtype(), bfloat16);
    }
  }
}

// The MLX rule, written from the documentation, in float32 as MLX computes it.
void doc_params(const float* w, int gs, int bits, float& scale, float& bias) {
  float lo = w[0], hi = w[0];
  for (int i = 1; i < gs; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  float n = float((1 << bits) - 1);
  float s = std::max((hi - lo) / n, 1e-7f);
  float edge = hi;
  if (std::abs(lo) > std::abs(hi)) {
    edge = lo;
  } else {
    s = -s;
  }
  float q0 = std::nearbyint(edge / s);
  bias = 0;
  if (q0 != 0) {
    s = edge / q0;
    bias = edge;
  }
  scale = s;
}

TEST(Quantized, QuantizeFollowsMlxRuleAndErrorBound) {
  uint64_t seed = 77;
  for (Dtype dt : {float32, bfloat16}) {
    for (int bits : {2, 3, 4, 5, 6, 8}) {
      for (int gs : {32, 64, 128}) {
        // Rows with positive, negative, mixed and constant groups.
        Host w = random_host({4, 256}, dt, seed++, -1.0, 1.0);
        for (int j = 0; j < 256; ++j) {
          w[256 + j] = round_to(Host{{1}, {std::abs(w[256 + j]) + 0.5}}, dt)[0];
          w[512 + j] = round_to(Host{{1}, {-std::abs(w[512 + j]) - 2.0}}, dt)[0];
        }
        for (int j = 0; j < 64; ++j) w[768 + j] = 0.75;
        auto q = quantize(make_array(w, dt), gs, bits);
        ASSERT_EQ(q.wq.shape(), (Shape{4, 256 * bits / 32}));
        ASSERT_EQ(q.scales.shape(), (Shape{4, 256 / gs}));
        EXPECT_EQ(q.scales.dtype(), dt);
        std::vector<uint8_t> bytes = bytes_of_u32(q.wq.to_vector<uint32_t>());
        std::vector<double> scales = q.scales.to_vector<double>(),
                            biases = q.biases.to_vector<double>();
        Host deq = ref_dequantize(q.wq, q.scales, q.biases, gs, bits);
        size_t mismatched_codes = 0;
        for (int r = 0; r < 4; ++r) {
          for (int g = 0; g < 256 / gs; ++g) {
            std::vector<float> grp(gs);
            for (int i = 0; i < gs; ++i) grp[i] = float(w[r * 256 + g * gs + i]);
            float s, b;
            doc_params(grp.data(), gs, bits, s, b);
            EXPECT_EQ(scales[r * (256 / gs) + g], double(round_to(Host{{1}, {s}}, dt)[0]));
            EXPECT_EQ(biases[r * (256 / gs) + g], double(round_to(Host{{1}, {b}}, dt)[0]));
            double top = double((1 << bits) - 1);
            double lo = std::min<double>(b, b + double(s) * top),
                   hi = std::max<double>(b, b + double(s) * top);
            for (int i = 0; i < gs; ++i) {
              int64_t j = g * gs + i;
              float qf = std::nearbyint((grp[i] - b) / s);
              uint32_t want = uint32_t(std::clamp(qf, 0.0f, float(top)));
              if (stream_code(bytes, r * 256 * bits / 8, j, bits) != want) ++mismatched_codes;
              // Error bound in terms of the unrounded parameters: |s|/2 inside the
              // representable range, the nearest endpoint outside it.
              double v = grp[i];
              double approx = double(s) * want + b;
              double err = std::abs(approx - v);
              double bound = v < lo ? lo - v : v > hi ? v - hi : std::abs(double(s)) / 2;
              EXPECT_LE(err, bound * (1 + 1e-5) + 1e-6) << "bits " << bits << " v " << v;
              // What dequantize gives (rounded parameters) stays close to that.
              EXPECT_NEAR(deq[r * 256 + j], approx, 1e-2 * (std::abs(v) + 1) + std::abs(double(s)));
            }
          }
        }
        EXPECT_EQ(mismatched_codes, 0u) << dt.name() << " bits " << bits << " gs " << gs;
      }
    }
  }
}

TEST(Quantized, QuantizedMatmulMatchesFloat64OfDequantizedWeights) {
  uint64_t seed = 900;
  for (int bits : {4, 8, 3, 2, 6}) {
    for (int gs : {32, 64, 128}) {
      if (bits != 4 && gs != 64) continue;
      for (bool transpose : {true, false}) {
        Host w = random_host(transpose ? Shape{72, 256} : Shape{256, 128}, float32, seed++, -1, 1);
        auto q = quantize(make_array(w, float32), gs, bits);
        Host wd = ref_dequantize(q.wq, q.scales, q.biases, gs, bits);
        for (Dtype dt : {float32, bfloat16, float16}) {
          for (int64_t m : {1, 3, 17, 40}) {  // 40: the dequantize-then-GEMM path on the GPU
            Host x = random_host({m, 256}, dt, seed++, -1, 1);
            Array y =
                quantized_matmul(make_array(x, dt), q.wq, q.scales, q.biases, transpose, gs, bits);
            EXPECT_EQ(y.dtype(), float32);  // promoted with the float32 scales
            EXPECT_TRUE(close_product(to_host(y), ref_product(x, wd, transpose), float32))
                << "bits " << bits << " gs " << gs << " transpose " << transpose << " " << dt.name()
                << " m " << m;
          }
        }
      }
    }
  }
}

// The decode GEMV on the GPU (at most 8 rows of x against W^T): 4 and 8 bits,
// every group size, the K of llama-3.1-8b and gemma-3, M = 1, 2, 5 (x staged in
// shared memory or, when large, in global memory), scales of each float dtype.
TEST(Quantized, DecodeGemvShapes) {
  uint64_t seed = 1300;
  const Dtype dtypes[] = {bfloat16, float32, float16};
  int turn = 0;
  for (int bits : {4, 8}) {
    for (int gs : {32, 64, 128}) {
      for (int64_t k : {1152, 2560, 4096, 6912, 14336}) {
        const int64_t n = k == 4096 ? 1 : 67;
        const Dtype wdt = dtypes[turn++ % 3];
        Host w = random_host({n, k}, wdt, seed++, -1, 1);
        auto q = quantize(make_array(w, wdt), gs, bits);
        Host wd = ref_dequantize(q.wq, q.scales, q.biases, gs, bits);
        for (int64_t m : {1, 2, 5}) {
          const Dtype xdt = dtypes[(turn + m) % 3];
          Host x = random_host({m, k}, xdt, seed++, -1, 1);
          Array y = quantized_matmul(make_array(x, xdt), q.wq, q.scales, q.biases, true, gs, bits);
          EXPECT_TRUE(close_product(to_host(y), ref_product(x, wd, true), y.dtype()))
              << "bits " << bits << " gs " << gs << " k " << k << " m " << m << " w " << wdt.name()
              << " x " << xdt.name();
        }
      }
    }
  }
}

// A vocabulary-sized quantized projection (N = 262144) and a row of x from a
// stack [2, 3, K] (6 rows, one GEMV).
TEST(Quantized, DecodeGemvManyRowsAndStackedX) {
  Host w = random_host({262144, 64}, bfloat16, 1401, -1, 1);
  auto q = quantize(make_array(w, bfloat16), 64, 4);
  Host wd = ref_dequantize(q.wq, q.scales, q.biases, 64, 4);
  Host x = random_host({1, 64}, bfloat16, 1402, -1, 1);
  Array y = quantized_matmul(make_array(x, bfloat16), q.wq, q.scales, q.biases, true, 64, 4);
  EXPECT_TRUE(close_product(to_host(y), ref_product(x, wd, true), bfloat16));
  Host w2 = random_host({40, 512}, float32, 1403, -1, 1);
  auto q2 = quantize(make_array(w2, float32), 32, 8);
  Host wd2 = ref_dequantize(q2.wq, q2.scales, q2.biases, 32, 8);
  Host xs = random_host({2, 3, 512}, float32, 1404, -1, 1);
  Array ys = quantized_matmul(make_array(xs, float32), q2.wq, q2.scales, q2.biases, true, 32, 8);
  ASSERT_EQ(ys.shape(), (Shape{2, 3, 40}));
  EXPECT_TRUE(close_product(to_host(ys), ref_product(xs, wd2, true), float32));
}

// Prefill-sized products (many rows of x in a batch, half-precision scales): on the GPU the
// weight is dequantized once and multiplied with cuBLAS.
TEST(Quantized, PrefillRowsWithHalfScales) {
  for (bool transpose : {true, false}) {
    const int64_t n = transpose ? 96 : 128;  // quantized along the stored rows (of 64 groups)
    Host w = random_host(transpose ? Shape{n, 256} : Shape{256, n}, bfloat16, 31, -1, 1);
    auto q = quantize(make_array(w, bfloat16), 64, 4);
    Host wd = ref_dequantize(q.wq, q.scales, q.biases, 64, 4);
    Host x = random_host({2, 40, 256}, bfloat16, 32, -1, 1);
    Array y = quantized_matmul(make_array(x, bfloat16), q.wq, q.scales, q.biases, transpose, 64, 4);
    EXPECT_EQ(y.dtype(), bfloat16);
    ASSERT_EQ(y.shape(), (Shape{2, 40, n}));
    Host x2{{80, 256}, x.data};
    Host got = to_host(reshape(y, {80, n}));
    const Ref want = ref_product(x2, wd, transpose);
    if (test_device() == Device::cuda) {
      // The GPU rounds the dequantized weight to x's dtype before its GEMM (as MLX's kernels
      // do): each product may be off by 2^-9 of itself, on top of the output's rounding.
      for (size_t i = 0; i < got.size(); ++i) {
        const double bound = std::ldexp(want.magnitude[i], -8) + std::abs(want.value[i]) / 128;
        ASSERT_LE(std::abs(got[i] - want.value[i]), bound) << "[" << i << "] " << transpose;
      }
    } else {
      EXPECT_TRUE(close_product(got, want, bfloat16)) << "transpose " << transpose;
    }
  }
}

TEST(Quantized, HalfScalesGiveHalfOutputAndBatchesBroadcast) {
  Host w = random_host({2, 40, 128}, bfloat16, 3, -1, 1);
  auto q = quantize(make_array(w, bfloat16), 64, 4);
  Host wd = ref_dequantize(q.wq, q.scales, q.biases, 64, 4);
  // x [3, 2, 1, K] against w [2, N, K]: batch (3, 2) broadcast with (2).
  Host x = random_host({3, 2, 1, 128}, bfloat16, 4);
  Array y = quantized_matmul(make_array(x, bfloat16), q.wq, q.scales, q.biases);
  EXPECT_EQ(y.dtype(), bfloat16);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 1, 40}));
  Host got = to_host(y);
  for (int i = 0; i < 3; ++i)
    for (int e = 0; e < 2; ++e) {
      Host xm{{1, 128},
              {x.data.begin() + (i * 2 + e) * 128, x.data.begin() + (i * 2 + e + 1) * 128}};
      Host wm{{40, 128}, {wd.data.begin() + e * 40 * 128, wd.data.begin() + (e + 1) * 40 * 128}};
      Host gm{{1, 40},
              {got.data.begin() + (i * 2 + e) * 40, got.data.begin() + (i * 2 + e + 1) * 40}};
      EXPECT_TRUE(close_product(gm, ref_product(xm, wm, true), bfloat16));
    }
  // A 1-D x gives a 1-D result.
  Array v = quantized_matmul(make_array(random_host({128}, float32, 9), float32), q.wq, q.scales,
                             q.biases);
  EXPECT_EQ(v.shape(), (Shape{2, 40}));
}

TEST(Quantized, GatherQmmSelectsExperts) {
  Host w = random_host({4, 24, 64}, float32, 21, -1, 1);
  auto q = quantize(make_array(w, float32), 32, 4);
  Host wd = ref_dequantize(q.wq, q.scales, q.biases, 32, 4);
  Host x = random_host({3, 1, 1, 64}, float32, 22);
  std::vector<int32_t> ri = {2, 0, 3, 3, 1, 2};
  Array y = gather_qmm(make_array(x, float32), q.wq, q.scales, q.biases, std::nullopt,
                       array(ri, {3, 2}), true, 32, 4);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 1, 24}));
  Host got = to_host(y);
  for (int t = 0; t < 3; ++t)
    for (int e = 0; e < 2; ++e) {
      int ex = ri[t * 2 + e];
      Host xm{{1, 64}, {x.data.begin() + t * 64, x.data.begin() + t * 64 + 64}};
      Host wm{{24, 64}, {wd.data.begin() + ex * 24 * 64, wd.data.begin() + (ex + 1) * 24 * 64}};
      Host gm{{1, 24},
              {got.data.begin() + (t * 2 + e) * 24, got.data.begin() + (t * 2 + e + 1) * 24}};
      EXPECT_TRUE(close_product(gm, ref_product(xm, wm, true), float32));
    }
  EXPECT_THROW(eval(gather_qmm(make_array(x, float32), q.wq, q.scales, q.biases, std::nullopt,
                               array<int32_t>({4}, {1}), true, 32, 4)),
               Error);
}

// E2M1 from its definition: sign bit 3, exponent bits 2..1 (bias 1), mantissa bit 0.
double e2m1(int c) {
  int s = (c >> 3) & 1, e = (c >> 1) & 3, m = c & 1;
  double mag = e == 0 ? 0.5 * m : std::ldexp(1.0 + 0.5 * m, e - 1);
  return s ? -mag : mag;
}

TEST(Quantized, Mxfp4DecodesEveryCodeAndScale) {
  // Row r has scale exponent exps[r]; its 32 codes are 0..15 twice (bytes low nibble first).
  std::vector<int> exps = {127, 120, 130, 1, 0, 200};
  int64_t rows = int64_t(exps.size());
  std::vector<uint8_t> blocks(rows * 16);
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < 16; ++i)
      blocks[r * 16 + i] = uint8_t(((2 * i + 1) % 16) << 4 | ((2 * i) % 16));
  std::vector<uint8_t> sc(exps.begin(), exps.end());
  Array scales = array(sc, {rows, 1});
  Host want{{rows, 32}, std::vector<double>(rows * 32)};
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < 32; ++j) want[r * 32 + j] = std::ldexp(1.0, exps[r] - 127) * e2m1(j % 16);
  // Flat uint8 rows, the gpt-oss blocks layout [N, G, 16], and uint32 words all agree.
  Array flat = dequantize(array(blocks, {rows, 16}), scales, std::nullopt, 32, 4, "mxfp4", float32);
  Array blk =
      dequantize(array(blocks, {rows, 1, 16}), scales, std::nullopt, 32, 4, "mxfp4", float32);
  std::vector<uint32_t> words(rows * 4);
  std::memcpy(words.data(), blocks.data(), blocks.size());
  Array w32 = dequantize(array(words, {rows, 4}), scales, std::nullopt, 32, 4, "mxfp4", float32);
  for (Array d : {flat, blk, w32}) EXPECT_TRUE(close(to_host(d), want, {0, 0}));
  // E8M0 255 is NaN.
  std::vector<float> nan_row =
      dequantize(array(std::vector<uint8_t>(16, 0x21), {1, 16}),
                 array(std::vector<uint8_t>{255}, {1, 1}), std::nullopt, 32, 4, "mxfp4", float32)
          .to_vector<float>();
  EXPECT_TRUE(std::isnan(nan_row[0]));
  EXPECT_EQ(dequantize(array(blocks, {rows, 16}), scales, std::nullopt, std::nullopt, std::nullopt,
                       "mxfp4")
                .dtype(),
            bfloat16);

  // quantized_matmul in mxfp4 against the decoded weights.
  std::mt19937_64 rng(3);
  int64_t n = 40, k = 128;
  std::vector<uint8_t> b2(n * k / 2), s2(n * k / 32);
  for (auto& v : b2) v = uint8_t(rng());
  for (auto& v : s2) v = uint8_t(120 + rng() % 12);
  Array wq = array(b2, {n, k / 32, 16}), ws = array(s2, {n, k / 32});
  Host wd = to_host(dequantize(wq, ws, std::nullopt, 32, 4, "mxfp4", float32));
  for (int64_t m : {1, 5}) {
    for (Dtype dt : {float32, bfloat16}) {
      Host x = random_host({m, k}, dt, 10 + m);
      Array y = quantized_matmul(make_array(x, dt), wq, ws, std::nullopt, true, 32, 4, "mxfp4");
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_TRUE(close_product(to_host(y), ref_product(x, wd, true), dt)) << m << " " << dt.name();
    }
  }
}

// mxfp4 through the decode GEMV against the format's definition: K = 4096,
// M = 1, 2, 5, uint8 and uint32 codes.
TEST(Quantized, Mxfp4DecodeGemv) {
  std::mt19937_64 rng(17);
  const int64_t n = 45, k = 4096;
  std::vector<uint8_t> codes(n * k / 2), sc(n * k / 32);
  for (auto& v : codes) v = uint8_t(rng());
  for (auto& v : sc) v = uint8_t(118 + rng() % 16);
  Host wd{{n, k}, std::vector<double>(n * k)};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j) {
      const uint8_t byte = codes[(r * k + j) / 2];
      const int c = j % 2 ? byte >> 4 : byte & 15;
      wd[r * k + j] = std::ldexp(1.0, sc[r * (k / 32) + j / 32] - 127) * e2m1(c);
    }
  std::vector<uint32_t> words(codes.size() / 4);
  std::memcpy(words.data(), codes.data(), codes.size());
  Array ws = array(sc, {n, k / 32});
  for (Array wq : {array(codes, {n, k / 2}), array(words, {n, k / 8})}) {
    for (int64_t m : {1, 2, 5}) {
      for (Dtype dt : {bfloat16, float32}) {
        Host x = random_host({m, k}, dt, 30 + m);
        Array y = quantized_matmul(make_array(x, dt), wq, ws, std::nullopt, true, 32, 4, "mxfp4");
        EXPECT_TRUE(close_product(to_host(y), ref_product(x, wd, true), dt))
            << m << " " << dt.name() << " " << wq.dtype().name();
      }
    }
  }
}

TEST(Quantized, EmptyProducts) {
  auto q = quantize(zeros({8, 64}), 32, 4);
  Array y = quantized_matmul(zeros({0, 64}), q.wq, q.scales, q.biases, true, 32, 4);
  EXPECT_EQ(y.shape(), (Shape{0, 8}));
  EXPECT_EQ(y.to_vector<float>().size(), 0u);
  auto e = quantize(zeros({0, 64}), 32, 4);
  Array z = quantized_matmul(ones({2, 64}), e.wq, e.scales, e.biases, true, 32, 4);
  EXPECT_EQ(z.shape(), (Shape{2, 0}));
  EXPECT_EQ(z.to_vector<float>().size(), 0u);
}

TEST(Quantized, BadInputThrowsNamingTheOp) {
  auto throws_with = [](auto f, const std::string& what) {
    try {
      f();
    } catch (const Error& e) {
      std::string msg = e.what();
      return msg.find(what) != std::string::npos ? ::testing::AssertionSuccess()
                                                 : ::testing::AssertionFailure() << msg;
    }
    return ::testing::AssertionFailure() << "did not throw";
  };
  EXPECT_TRUE(throws_with(
      [] {
        quantize(zeros({4, 100}), 64, 4);
      },
      "[quantize] the last dimension 100"));
  EXPECT_TRUE(throws_with([] { quantize(zeros({4, 128}), 64, 7); }, "[quantize] bits must be"));
  EXPECT_TRUE(throws_with(
      [] {
        quantize(zeros({4, 128}), 48, 4);
      },
      "[quantize] group_size must be"));
  EXPECT_TRUE(throws_with([] { quantize(zeros({4, 128}, int32), 64, 4); }, "[quantize]"));
  EXPECT_TRUE(throws_with([] { quantize(zeros({128}), 64, 4); }, "[quantize] needs a matrix"));
  auto q = quantize(zeros({8, 128}), 64, 4);
  EXPECT_TRUE(throws_with(
      [&] {
        quantized_matmul(zeros({2, 64}), q.wq, q.scales, q.biases);
      },
      "[quantized_matmul] x has shape (2, 64) (K=64)"));
  EXPECT_TRUE(throws_with(
      [&] {
        quantized_matmul(zeros({2, 128}), q.wq, q.scales, q.biases, true, 64, 8);
      },
      "[quantized_matmul] scales have shape"));
  EXPECT_TRUE(throws_with(
      [&] {
        quantized_matmul(zeros({2, 128}), q.wq, q.scales, std::nullopt);
      },
      "[quantized_matmul] affine quantization needs biases"));
  EXPECT_TRUE(throws_with([&] { dequantize(astype(q.wq, int32), q.scales, q.biases); },
                          "[dequantize] wq must be uint32"));
  EXPECT_TRUE(throws_with([&] { dequantize(q.wq, q.scales, q.biases, 64, 4, "nf4"); },
                          "[dequantize] unknown quantization mode 'nf4'"));
  EXPECT_TRUE(throws_with([&] { dequantize(q.wq, q.scales, q.biases, 64, 4, "mxfp4"); },
                          "[dequantize] mxfp4 needs group_size 32"));
  EXPECT_TRUE(throws_with([&] { dequantize(q.wq, q.scales, q.biases, 32, 4, "mxfp4"); },
                          "[dequantize] mxfp4"));
  EXPECT_TRUE(throws_with(
      [&] {
        quantized_matmul(zeros({1, 128}, int32), q.wq, q.scales, q.biases);
      },
      "[quantized_matmul] expected a floating-point array"));
}

}  // namespace
}  // namespace lathe::testing
