// safetensors: round trips of every dtype, conversions of the file-only dtypes,
// and one crafted file per validation rule.
#include "lathe/io/safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "lathe/lathe.h"
#include "support/harness.h"

namespace lathe::io {
namespace {

namespace fs = std::filesystem;

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lathe_st_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A file from a raw JSON header and data bytes.
  std::string craft(const std::string& name, const std::string& json, const std::string& data,
                    int64_t declared_len = -1) {
    std::string p = path(name);
    std::ofstream f(p, std::ios::binary);
    uint64_t n = declared_len >= 0 ? uint64_t(declared_len) : json.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xff));
    f << json << data;
    return p;
  }

  void expect_error(const std::string& file, const std::string& needle) {
    try {
      SafetensorsFile::open(file);
      FAIL() << "no error for " << file;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(needle), std::string::npos) << m;
      EXPECT_NE(m.find(fs::path(file).filename().string()), std::string::npos)
          << "error must name the file: " << m;
    }
  }

  fs::path dir_;
};

TEST_F(Safetensors, RoundTripEveryDtype) {
  std::map<std::string, Array> in;
  for (Dtype dt : all_dtypes) {
    auto h = testing::random_host({3, 5}, dt, 11, -50, 50);
    in.emplace(std::string("t_") + dt.name(), testing::make_array(h, dt));
  }
  // A non-contiguous array and a scalar and an empty tensor are written as row-major data.
  in.emplace("transposed", transpose(reshape(arange(12, float32), {3, 4})));
  in.emplace("scalar", full({}, 7.0, int64));
  in.emplace("empty", zeros({0, 4}, float16));
  save_safetensors(path("a.safetensors"), in, {{"format", "pt"}});
  auto out = load_safetensors(path("a.safetensors"));
  ASSERT_EQ(out.size(), in.size());
  for (auto& [name, a] : in) {
    Array b = out.at(name);
    EXPECT_EQ(b.dtype(), a.dtype()) << name;
    EXPECT_EQ(b.shape(), a.shape()) << name;
    EXPECT_EQ(b.to_vector<double>(), a.to_vector<double>()) << name;
  }
  EXPECT_EQ(SafetensorsFile::open(path("a.safetensors"))->header().metadata.at("format"), "pt");
}

TEST_F(Safetensors, LoadsLazilyAndWithoutCopying) {
  save_safetensors(path("w.safetensors"), {{"w", arange(0.0, 64.0, 1.0, float32)}});
  auto f = SafetensorsFile::open(path("w.safetensors"));
  Array w = f->load("w");
  EXPECT_FALSE(w.is_available());
  size_t before = active_memory();
  eval(w);
  EXPECT_EQ(active_memory(), before) << "an aligned native tensor views the mapping";
  EXPECT_EQ(w.to_vector<float>()[63], 63.0f);
  // Computing on it never writes into the read-only mapping.
  Array y = exp(w);
  w = Array(0.0f);
  EXPECT_NEAR(y.to_vector<float>()[1], std::exp(1.0f), 1e-6);
}

TEST_F(Safetensors, FileOnlyDtypesConvertExactly) {
  // I16, U16 widen to int32; F8_E4M3 and F8_E5M2 become bfloat16 (exactly representable).
  std::string json = R"({"i16":{"dtype":"I16","shape":[2],"data_offsets":[0,4]},)"
                     R"("u16":{"dtype":"U16","shape":[2],"data_offsets":[4,8]},)"
                     R"("e4m3":{"dtype":"F8_E4M3","shape":[5],"data_offsets":[8,13]},)"
                     R"("e5m2":{"dtype":"F8_E5M2","shape":[4],"data_offsets":[13,17]}})";
  std::string data;
  data += std::string("\xff\xff\x00\x80", 4);  // -1, -32768
  data += std::string("\xff\xff\x01\x00", 4);  // 65535, 1
  // E4M3: 0x38 = 1.0, 0x7e = 448 (max), 0x01 = 2^-9 (min subnormal), 0xc0 = -2.0, 0x7f = NaN
  data += std::string("\x38\x7e\x01\xc0\x7f", 5);
  // E5M2: 0x3c = 1.0, 0x7b = 57344 (max), 0x01 = 2^-16, 0x7c = inf
  data += std::string("\x3c\x7b\x01\x7c", 4);
  auto f = SafetensorsFile::open(craft("f.safetensors", json, data));
  EXPECT_EQ(f->load("i16").dtype(), int32);
  EXPECT_EQ(f->load("i16").to_vector<int32_t>(), (std::vector<int32_t>{-1, -32768}));
  EXPECT_EQ(f->load("u16").to_vector<int32_t>(), (std::vector<int32_t>{65535, 1}));
  auto e4 = f->load("e4m3").to_vector<double>();
  EXPECT_EQ(f->load("e4m3").dtype(), bfloat16);
  EXPECT_EQ(e4[0], 1.0);
  EXPECT_EQ(e4[1], 448.0);
  EXPECT_EQ(e4[2], std::ldexp(1.0, -9));
  EXPECT_EQ(e4[3], -2.0);
  EXPECT_TRUE(std::isnan(e4[4]));
  auto e5 = f->load("e5m2").to_vector<double>();
  EXPECT_EQ(e5[0], 1.0);
  EXPECT_EQ(e5[1], 57344.0);
  EXPECT_EQ(e5[2], std::ldexp(1.0, -16));
  EXPECT_TRUE(std::isinf(e5[3]));
}

TEST_F(Safetensors, WriterMatchesTheReferenceLayout) {
  // Reference rules: tensors sorted by dtype (widest kinds first) then name,
  // compact JSON with __metadata__ first, header padded with spaces to 8 bytes.
  save_safetensors(
      path("o.safetensors"),
      {{"b", zeros({2}, float16)}, {"a", zeros({1}, float32)}, {"c", zeros({1}, float16)}},
      {{"format", "pt"}});
  std::ifstream f(path("o.safetensors"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  std::string header = bytes.substr(8, n);
  std::string want =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},)"
      R"("c":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}})";
  EXPECT_EQ(header.substr(0, want.size()), want);
  EXPECT_EQ(header.find_first_not_of(' ', want.size()), std::string::npos);
  EXPECT_EQ(bytes.size(), 8 + n + 10);
}

TEST_F(Safetensors, EveryValidationRuleHasAClearError) {
  const std::string ok = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\0');
  expect_error(craft("short.safetensors", "", "", 0).substr(0, 0) + path("short.safetensors"),
               "header does not start");
  {
    std::ofstream(path("tiny.safetensors")) << "abc";
    expect_error(path("tiny.safetensors"), "too short");
  }
  expect_error(craft("huge.safetensors", ok, data8, int64_t(1) << 40), "exceeds the limit");
  expect_error(craft("past.safetensors", ok, data8, 5000), "runs past the end");
  expect_error(craft("json.safetensors", R"({"x": {"dtype": "F32",)", ""), "not valid JSON");
  expect_error(craft("notobj.safetensors", R"([1,2])", ""), "start with '{'");
  expect_error(
      craft("dtype.safetensors", R"({"x":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", data8),
      "unsupported dtype 'Q7'");
  expect_error(craft("shape.safetensors",
                     R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8),
               "tensor 'x'");
  expect_error(
      craft("size.safetensors", R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8),
      "need 12 bytes but data_offsets span 8");
  expect_error(
      craft("oob.safetensors", R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8),
      "run past the 8-byte data area");
  expect_error(
      craft(
          "overlap.safetensors",
          R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          data8),
      "overlapping");
  expect_error(
      craft("gap.safetensors", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8),
      "gap");
  expect_error(craft("trail.safetensors", ok, data8 + "junk"), "trailing");
  expect_error(craft("reversed.safetensors",
                     R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data8),
               "end before they begin");
  expect_error(
      craft("overflow.safetensors",
            R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})",
            data8),
      "too large");
  expect_error(craft("meta.safetensors", R"({"__metadata__":{"a":1}})", ""), "__metadata__");
  expect_error(path("missing.safetensors"), "cannot open");
  try {
    SafetensorsFile::open(craft("ok.safetensors", ok, data8))->load("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor named 'nope'"), std::string::npos);
  }
}

TEST_F(Safetensors, RandomDamageNeverCrashes) {
  save_safetensors(path("src.safetensors"),
                   {{"a", arange(0.0, 10.0, 1.0, float32)}, {"b", ones({3, 3}, bfloat16)}},
                   {{"format", "pt"}});
  std::ifstream f(path("src.safetensors"), std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(f)), {});
  std::mt19937 rng(1234);
  // In memory through the header parser: many cases, fast.
  int parsed = 0, refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string bad = good;
    if (iter % 3 == 0) {
      bad.resize(rng() % good.size());
    } else {
      int flips = 1 + rng() % 4;
      for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    }
    try {
      parse_safetensors_header(reinterpret_cast<const uint8_t*>(bad.data()), bad.size(), bad.size(),
                               "mem");
      ++parsed;
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 10000);
  EXPECT_EQ(parsed + refused, 20000);
  // Through files, evaluating every tensor that opens.
  int opened = 0, rejected = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::string bad = good;
    int kind = iter % 3;
    if (kind == 0) {
      bad.resize(rng() % good.size());  // truncation
    } else {
      int flips = 1 + rng() % 4;
      for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    }
    std::string p = path("fuzz.safetensors");
    std::ofstream(p, std::ios::binary) << bad;
    try {
      auto sf = SafetensorsFile::open(p);
      for (auto& [name, a] : sf->load_all()) (void)a.to_vector<double>();
      ++opened;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 150);
  EXPECT_EQ(opened + rejected, 300);
}

}  // namespace
}  // namespace lathe::io

namespace lathe::io {
namespace {

// Files written by the reference implementation (transformers' save_pretrained
// through the safetensors library, on the device machine) are reproduced byte
// for byte by save_safetensors from their own tensors and metadata.
TEST(SafetensorsReference, RewritingReferenceFilesIsByteIdentical) {
  namespace fs = std::filesystem;
  fs::path root = fs::path(LATHE_SOURCE_DIR) / "tests/data/models";
  if (!fs::exists(root)) GTEST_SKIP() << "no reference files under " << root;
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".safetensors") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::string want((std::istreambuf_iterator<char>(f)), {});
    auto file = SafetensorsFile::open(entry.path().string());
    std::string out = (fs::temp_directory_path() /
                       ("lathe_rewrite_" + std::to_string(::getpid()) + ".safetensors"))
                          .string();
    save_safetensors(out, file->load_all(), file->header().metadata);
    std::ifstream g(out, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(g)), {});
    fs::remove(out);
    EXPECT_EQ(got.size(), want.size()) << entry.path();
    EXPECT_TRUE(got == want) << entry.path() << ": bytes differ";
    ++checked;
  }
  EXPECT_GT(checked, 5);
}

}  // namespace
}  // namespace lathe::io
