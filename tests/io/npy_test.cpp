// .npy: byte-exact comparison with files numpy.save writes (built here by hand
// from numpy's documented format), round trips of every dtype, Fortran order,
// both byte orders, versions 1-3, and one damaged file per validation rule.
#include "lathe/io/npy.h"

#include <gtest/gtest.h>

#include "io/temp_folder.h"
#include "lathe/io/npy_header.h"
#include "lathe/lathe.h"
#include "support/harness.h"

namespace lathe::io {
namespace {

using test::expect_error;

// Version 1.0 file: magic, little-endian uint16 header length, the dict text,
// `spaces` padding, '\n', then the data bytes.
std::string npy_v1(const std::string& dict, size_t spaces, const std::string& data) {
  size_t hlen = dict.size() + spaces + 1;
  std::string s("\x93NUMPY\x01\x00", 8);
  s += static_cast<char>(hlen & 0xff);
  s += static_cast<char>(hlen >> 8);
  return s + dict + std::string(spaces, ' ') + "\n" + data;
}

std::string le32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string f32_bytes(std::initializer_list<float> v) {
  std::string s;
  for (float x : v) s.append(reinterpret_cast<const char*>(&x), 4);
  return s;
}

std::string f64_bytes(std::initializer_list<double> v) {
  std::string s;
  for (double x : v) s.append(reinterpret_cast<const char*>(&x), 8);
  return s;
}

class Npy : public test::TempFolderTest {};

// numpy.save(np.arange(6, dtype=np.float32).reshape(2, 3)): the dict, 20
// growth-axis spaces (21 - len("2")), padding to 128 bytes in all.
TEST_F(Npy, MatchesNumpySaveFloat32) {
  std::string want = npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 58,
                            f32_bytes({0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(want.size(), 128u + 24u);
  save_npy(path("a.npy"), reshape(arange(0.0, 6.0, 1.0, float32), {2, 3}));
  EXPECT_EQ(read("a.npy"), want);
  write("b.npy", want);
  Array b = load_npy(path("b.npy"));
  EXPECT_EQ(b.dtype(), float32);
  EXPECT_EQ(b.shape(), (Shape{2, 3}));
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

// numpy.save(np.asfortranarray(np.arange(6.0).reshape(2, 3))): the growth axis
// is the last one, data in column order.
TEST_F(Npy, MatchesNumpySaveFortranOrder) {
  std::string want = npy_v1("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", 59,
                            f64_bytes({0, 3, 1, 4, 2, 5}));
  // A transposed view is written Fortran-ordered, as numpy writes a.T.
  Array t = transpose(reshape(arange(0.0, 6.0, 1.0, float64), {3, 2}));
  save_npy(path("t.npy"), t);
  std::string t_want = npy_v1("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", 59,
                              f64_bytes({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(read("t.npy"), t_want);
  write("w.npy", want);
  Array w = load_npy(path("w.npy"));
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

TEST_F(Npy, MatchesNumpySaveScalarBoolAndBigEndian) {
  // numpy.save(np.float64(2.5)): shape (), no growth spaces.
  std::string scalar =
      npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 62, f64_bytes({2.5}));
  save_npy(path("s.npy"), full({}, 2.5, float64));
  EXPECT_EQ(read("s.npy"), scalar);
  // numpy.save(np.array([True, False, False, True])).
  std::string b = npy_v1("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", 60,
                         std::string("\x01\x00\x00\x01", 4));
  save_npy(path("b.npy"), array<bool>({true, false, false, true}));
  EXPECT_EQ(read("b.npy"), b);
  // numpy.save(np.array([1, -2, 300], dtype='>i2')): widened to int32.
  write("be.npy", npy_v1("{'descr': '>i2', 'fortran_order': False, 'shape': (3,), }", 60,
                         std::string("\x00\x01\xff\xfe\x01\x2c", 6)));
  Array be = load_npy(path("be.npy"));
  EXPECT_EQ(be.dtype(), int32);
  EXPECT_EQ(be.to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 300}));
  // Big-endian float32 and uint16 (65535 stays positive).
  write("bf.npy", npy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 60,
                         std::string("\x3f\x80\x00\x00\xc0\x00\x00\x00", 8)));
  EXPECT_EQ(load_npy(path("bf.npy")).to_vector<float>(), (std::vector<float>{1.0f, -2.0f}));
  write("u2.npy", npy_v1("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", 60,
                         std::string("\xff\xff\x02\x00", 4)));
  EXPECT_EQ(load_npy(path("u2.npy")).to_vector<int32_t>(), (std::vector<int32_t>{65535, 2}));
}

TEST_F(Npy, ReadsVersions2And3AndOldPadding) {
  std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
  std::string data("\x07\0\0\0\0\0\0\0\xf9\xff\xff\xff\xff\xff\xff\xff", 16);
  for (char major : {'\x02', '\x03'}) {
    std::string body = dict + std::string(3, ' ') + "\n";
    write("v.npy", std::string("\x93NUMPY", 6) + major + '\0' + le32(body.size()) + body + data);
    EXPECT_EQ(load_npy(path("v.npy")).to_vector<int64_t>(), (std::vector<int64_t>{7, -7}));
  }
  // numpy < 1.22 padded to 16 bytes and had no growth spaces; Python 2 wrote 2L.
  write("old.npy", npy_v1("{'descr': '<i8', 'fortran_order': False, 'shape': (2L,), }", 5, data));
  EXPECT_EQ(load_npy(path("old.npy")).to_vector<int64_t>(), (std::vector<int64_t>{7, -7}));
  // Keys in any order, double quotes, no trailing comma.
  write("k.npy",
        npy_v1("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i8\"}", 1, data));
  EXPECT_EQ(load_npy(path("k.npy")).shape(), (Shape{2}));
}

TEST_F(Npy, RoundTripEveryDtype) {
  for (Dtype dt : all_dtypes) {
    if (dt == bfloat16) continue;
    for (Shape s : {Shape{}, Shape{0}, Shape{5}, Shape{3, 4}, Shape{2, 3, 4}}) {
      auto h = testing::random_host(s, dt, 7, -100, 100);
      Array a = testing::make_array(h, dt);
      save_npy(path("r.npy"), a);
      Array b = load_npy(path("r.npy"));
      EXPECT_EQ(b.dtype(), dt) << dt.name();
      EXPECT_EQ(b.shape(), s) << dt.name();
      EXPECT_EQ(b.to_vector<double>(), testing::round_to(h, dt).data) << dt.name();
    }
  }
  // Strided views are written in C order with their values.
  auto h = testing::random_host({4, 6}, float32, 3);
  Array s = testing::make_array(h, float32, testing::Layout::strided);
  save_npy(path("s.npy"), s);
  EXPECT_EQ(load_npy(path("s.npy")).to_vector<double>(), testing::round_to(h, float32).data);
  auto h3 = testing::random_host({2, 3, 4}, int32, 5, -9, 9);
  Array t = transpose(testing::make_array(h3, int32));
  save_npy(path("t.npy"), t);
  EXPECT_EQ(load_npy(path("t.npy")).to_vector<int32_t>(), t.to_vector<int32_t>());
}

TEST_F(Npy, LongHeaderUsesVersion2) {
  std::string h = serialize_npy_header("<f4", false, std::vector<int64_t>(4000, 1));
  EXPECT_EQ(h[6], '\x01');
  EXPECT_EQ(h.size() % 64, 0u);
  std::string big = serialize_npy_header("<f4", false, std::vector<int64_t>(30000, 1));
  EXPECT_EQ(big[6], '\x02');
  EXPECT_EQ(big.size() % 64, 0u);
  EXPECT_EQ(big.back(), '\n');
}

TEST_F(Npy, RefusesBfloat16) {
  expect_error([&] { save_npy(path("x.npy"), ones({2}, bfloat16)); }, {"bfloat16", "x.npy"});
}

TEST_F(Npy, DamagedFiles) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  std::string four = f32_bytes({1, 2});
  auto check = [&](const std::string& bytes, std::initializer_list<std::string> needles) {
    write("d.npy", bytes);
    std::vector<std::string> n(needles);
    n.push_back("d.npy");
    try {
      load_npy(path("d.npy"));
      ADD_FAILURE() << "accepted: " << bytes.substr(0, 80);
    } catch (const Error& e) {
      for (const auto& s : n)
        EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what();
    }
  };
  check("", {"magic"});
  check("PK\x03\x04 not npy at all", {"magic"});
  check(std::string("\x93NUMPY\x04\x00\x10\x00", 10) + std::string(16, ' '), {"version 4.0"});
  check(std::string("\x93NUMPY\x02\x00\x10", 9), {"magic"});
  check(std::string("\x93NUMPY\x02\x00\x10\x00\x00", 11), {"truncated"});
  check(std::string("\x93NUMPY\x01\x00\xff\x00", 10) + ok_dict, {"past the end"});
  check(std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12), {"exceeds"});
  check(npy_v1(ok_dict, 3, four.substr(0, 7)), {"8 data bytes", "holds 7"});
  check(npy_v1("{'descr': '<f4', 'shape': (2,), }", 3, four), {"'fortran_order'"});
  check(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 3, four),
        {"unexpected key 'x'"});
  check(npy_v1("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 1, four),
        {"duplicate"});
  check(npy_v1("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 3, four),
        {"'<c8'", "complex"});
  check(npy_v1("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 3, four), {"'|O'"});
  check(npy_v1("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", 3, four), {"uint64"});
  check(npy_v1("{'descr': '<V2', 'fortran_order': False, 'shape': (1,), }", 3, four), {"'<V2'"});
  check(npy_v1("{'descr': '|f4', 'fortran_order': False, 'shape': (1,), }", 3, four),
        {"byte order"});
  check(npy_v1("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 3, four),
        {"structured"});
  check(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 3, four), {"tuple"});
  check(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 3, four), {"integer"});
  check(npy_v1("{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,), }", 3, four),
        {"True or False"});
  check(npy_v1("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", 3, four),
        {"bad header"});
  check(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 3, four), {"after"});
  check(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, "
               "99999999999), }",
               3, four),
        {"too large"});
  check(npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 3,
               four),
        {"too large"});
  expect_error([&] { load_npy(path("absent.npy")); }, {"absent.npy"});
}

}  // namespace
}  // namespace lathe::io
