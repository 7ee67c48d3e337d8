// .npy header parsing (a small reader for the Python dict literal numpy
// writes) and numpy-compatible header writing.
#include "lathe/io/npy_header.h"

#include <cstring>
#include <map>
#include <optional>

#include "lathe/core/error.h"

namespace lathe::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr int kMaxDims = 64;
constexpr size_t kAlign = 64;
constexpr int kGrowthAxisMaxDigits = 21;

// A cursor over the header text; every read is bounds-checked.
class Literal {
 public:
  Literal(const char* p, size_t n, const std::string& label) : p_(p), n_(n), label_(label) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("[npy] " + label_ + ": bad header at byte " + std::to_string(i_) + ": " + what);
  }
  void skip_space() {
    while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
  }
  bool peek(char c) {
    skip_space();
    return i_ < n_ && p_[i_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  bool accept(char c) {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }
  std::string string() {
    skip_space();
    if (i_ >= n_ || (p_[i_] != '\'' && p_[i_] != '"')) fail("expected a quoted string");
    char q = p_[i_++];
    std::string s;
    while (i_ < n_ && p_[i_] != q) {
      if (p_[i_] == '\\') fail("escapes are not supported in header strings");
      s += p_[i_++];
    }
    if (i_ >= n_) fail("unterminated string");
    ++i_;
    return s;
  }
  bool boolean() {
    skip_space();
    if (n_ - i_ >= 4 && std::memcmp(p_ + i_, "True", 4) == 0) {
      i_ += 4;
      return true;
    }
    if (n_ - i_ >= 5 && std::memcmp(p_ + i_, "False", 5) == 0) {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  int64_t integer() {
    skip_space();
    size_t start = i_;
    int64_t v = 0;
    while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') {
      if (v > (INT64_MAX - 9) / 10) fail("dimension too large");
      v = v * 10 + (p_[i_++] - '0');
    }
    if (i_ == start) fail("expected a non-negative integer");
    if (i_ < n_ && p_[i_] == 'L') ++i_;  // Python 2 long literals
    return v;
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (!accept(')')) {
      if (dims.size() >= kMaxDims) fail("more than " + std::to_string(kMaxDims) + " dimensions");
      dims.push_back(integer());
      if (!accept(',')) {
        expect(')');
        // "(3)" is an int in Python, not a tuple.
        if (dims.size() == 1) fail("shape must be a tuple");
        break;
      }
    }
    return dims;
  }
  bool at_end() {
    skip_space();
    return i_ >= n_;
  }

 private:
  const char* p_;
  size_t n_;
  size_t i_ = 0;
  const std::string& label_;
};

void parse_descr(const std::string& d, NpyHeader& h, const std::string& label) {
  auto refuse = [&](const std::string& why) {
    throw Error("[npy] " + label + ": unsupported dtype '" + d + "'" + why);
  };
  if (d.size() < 3) refuse("");
  char order = d[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') refuse("");
  h.kind = d[1];
  std::string digits = d.substr(2);
  if (digits.size() > 2 || digits.find_first_not_of("0123456789") != std::string::npos) refuse("");
  h.itemsize = std::stoi(digits);
  bool ok = (h.kind == 'b' && h.itemsize == 1) ||
            ((h.kind == 'u' || h.kind == 'i') &&
             (h.itemsize == 1 || h.itemsize == 2 || h.itemsize == 4 || h.itemsize == 8)) ||
            (h.kind == 'f' && (h.itemsize == 2 || h.itemsize == 4 || h.itemsize == 8));
  if (!ok) {
    if (h.kind == 'c') refuse(" (complex numbers have no lathe dtype)");
    if (h.kind == 'V') refuse(" (raw void data; bfloat16 has no npy code)");
    refuse("");
  }
  if (h.kind == 'u' && h.itemsize == 8) refuse(" (uint64 has no lathe dtype)");
  if (h.itemsize > 1 && order == '|') refuse(" (a multi-byte type needs a byte order)");
  h.big_endian = order == '>';
}

}  // namespace

NpyHeader parse_npy_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                           const std::string& label) {
  auto fail = [&](const std::string& what) { return Error("[npy] " + label + ": " + what); };
  available = static_cast<size_t>(std::min<uint64_t>(available, file_size));
  if (available < 10 || std::memcmp(bytes, kMagic, 6) != 0)
    throw fail("not an .npy file (no \\x93NUMPY magic)");
  NpyHeader h;
  h.major = bytes[6];
  h.minor = bytes[7];
  if (h.major < 1 || h.major > 3 || h.minor != 0)
    throw fail("unsupported format version " + std::to_string(h.major) + "." +
               std::to_string(h.minor));
  size_t len_bytes = h.major == 1 ? 2 : 4;
  if (available < 8 + len_bytes) throw fail("truncated header length");
  uint64_t hlen = 0;
  for (size_t i = 0; i < len_bytes; ++i) hlen |= uint64_t(bytes[8 + i]) << (8 * i);
  if (hlen > kMaxNpyHeaderSize)
    throw fail("header length " + std::to_string(hlen) + " exceeds the limit");
  h.data_offset = 8 + len_bytes + hlen;
  if (h.data_offset > available)
    throw fail("header length " + std::to_string(hlen) + " runs past the end of the file (" +
               std::to_string(file_size) + " bytes)");

  Literal lit(reinterpret_cast<const char*>(bytes) + 8 + len_bytes, hlen, label);
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;
  lit.expect('{');
  while (!lit.accept('}')) {
    std::string key = lit.string();
    lit.expect(':');
    if (key == "descr") {
      if (lit.peek('[')) throw fail("structured dtypes are not supported");
      if (descr) lit.fail("duplicate key 'descr'");
      descr = lit.string();
    } else if (key == "fortran_order") {
      if (fortran) lit.fail("duplicate key 'fortran_order'");
      fortran = lit.boolean();
    } else if (key == "shape") {
      if (shape) lit.fail("duplicate key 'shape'");
      shape = lit.tuple();
    } else {
      lit.fail("unexpected key '" + key + "'");
    }
    if (!lit.accept(',')) {
      lit.expect('}');
      break;
    }
  }
  if (!lit.at_end()) lit.fail("text after the header dict");
  if (!descr || !fortran || !shape) throw fail("header needs 'descr', 'fortran_order' and 'shape'");
  parse_descr(*descr, h, label);
  h.fortran_order = *fortran;
  h.shape = *shape;

  uint64_t n = 1;
  for (int64_t d : h.shape) {
    if (d != 0 && n > (UINT64_MAX / 8) / static_cast<uint64_t>(d)) throw fail("shape is too large");
    n *= static_cast<uint64_t>(d);
  }
  h.data_bytes = n * static_cast<uint64_t>(h.itemsize);
  if (file_size - h.data_offset < h.data_bytes)
    throw fail("the header declares " + std::to_string(h.data_bytes) +
               " data bytes but the file holds " + std::to_string(file_size - h.data_offset));
  return h;
}

std::string serialize_npy_header(const std::string& descr, bool fortran_order,
                                 const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': ";
  dict += fortran_order ? "True" : "False";
  dict += ", 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  // Spare room so that the growth axis can be rewritten in place (numpy >= 1.24).
  if (!shape.empty()) {
    int64_t growth = fortran_order ? shape.back() : shape.front();
    dict.append(kGrowthAxisMaxDigits - std::to_string(growth).size(), ' ');
  }
  auto wrap = [&](size_t len_bytes, char major) {
    size_t used = 8 + len_bytes + dict.size() + 1;
    size_t pad = kAlign - used % kAlign;  // a full 64 when already aligned, as numpy does
    uint64_t hlen = dict.size() + pad + 1;
    std::string out(kMagic, 6);
    out += major;
    out += '\0';
    for (size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((hlen >> (8 * i)) & 0xff);
    out += dict;
    out.append(pad, ' ');
    out += '\n';
    return out;
  };
  std::string v1 = wrap(2, 1);
  if (v1.size() - 10 <= 65535) return v1;
  return wrap(4, 2);
}

}  // namespace lathe::io
