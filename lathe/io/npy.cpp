// .npy files as lathe arrays: element conversion on read (byte order,
// widening) and numpy.save-compatible writes.
#include "lathe/io/npy.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "lathe/backend/cpu/strided.h"
#include "lathe/core/scheduler.h"
#include "lathe/io/mapped_file.h"
#include "lathe/io/npy_header.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/device.h"
#include "lathe/ops/shape.h"

namespace lathe::io {

namespace {

Dtype npy_load_dtype(const NpyHeader& h) {
  switch (h.kind) {
    case 'b': return bool_;
    case 'f': return h.itemsize == 2 ? float16 : h.itemsize == 4 ? float32 : float64;
    case 'u': return h.itemsize == 1 ? uint8 : h.itemsize == 2 ? int32 : uint32;
    default: return h.itemsize == 1 ? int8 : h.itemsize == 8 ? int64 : int32;
  }
}

// One element of the file as an unsigned integer of its width, in host order.
uint64_t read_word(const uint8_t* p, int size, bool big_endian) {
  uint64_t v = 0;
  for (int b = 0; b < size; ++b) {
    int shift = big_endian ? 8 * (size - 1 - b) : 8 * b;
    v |= uint64_t(p[b]) << shift;
  }
  return v;
}

void store_word(uint8_t* dst, uint64_t v, size_t size) {
  for (size_t b = 0; b < size; ++b) dst[b] = static_cast<uint8_t>(v >> (8 * b));
}

const char* descr_of(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_: return "|b1";
    case Dtype::Val::uint8: return "|u1";
    case Dtype::Val::int8: return "|i1";
    case Dtype::Val::uint32: return "<u4";
    case Dtype::Val::int32: return "<i4";
    case Dtype::Val::int64: return "<i8";
    case Dtype::Val::float16: return "<f2";
    case Dtype::Val::float32: return "<f4";
    case Dtype::Val::float64: return "<f8";
    case Dtype::Val::bfloat16: break;
  }
  return nullptr;
}

// Whether elements at `strides` are laid out densely with the first (c=false)
// or last (c=true) axis fastest; axes of length 1 may have any stride.
bool dense_order(const Shape& shape, const Strides& strides, bool c) {
  int64_t expect = 1;
  int nd = static_cast<int>(shape.size());
  for (int k = 0; k < nd; ++k) {
    int i = c ? nd - 1 - k : k;
    if (shape[i] == 1) continue;
    if (strides[i] != expect) return false;
    expect *= shape[i];
  }
  return true;
}

}  // namespace

Array load_npy(const std::string& path) {
  std::shared_ptr<MappedFile> f;
  try {
    f = MappedFile::open(path);
  } catch (const Error& e) {
    throw Error(std::string("[npy] ") + e.what());
  }
  NpyHeader h = parse_npy_header(f->data(), f->size(), f->size(), path);
  Dtype dt = npy_load_dtype(h);
  size_t n = h.itemsize ? h.data_bytes / h.itemsize : 0;
  std::vector<uint8_t> buf(n * dt.size());
  const uint8_t* src = f->data() + h.data_offset;
  bool widen = static_cast<size_t>(h.itemsize) != dt.size();
  if (!h.big_endian && !widen && h.kind != 'b') {
    if (n) std::memcpy(buf.data(), src, buf.size());
  } else {
    bool is_signed = h.kind == 'i';
    for (size_t i = 0; i < n; ++i) {
      uint64_t v = read_word(src + i * h.itemsize, h.itemsize, h.big_endian);
      if (h.kind == 'b') v = v != 0;
      if (widen && is_signed && (v >> (8 * h.itemsize - 1)) & 1)  // sign-extend
        v |= ~uint64_t(0) << (8 * h.itemsize);
      store_word(buf.data() + i * dt.size(), v, dt.size());
    }
  }
  Shape shape(h.shape.begin(), h.shape.end());
  if (!h.fortran_order || shape.size() < 2) return array_from(buf.data(), dt, shape, dt);
  // Fortran order is C order of the reversed shape; reversing the axes back
  // gives the array as numpy sees it.
  Shape reversed(shape.rbegin(), shape.rend());
  return transpose(array_from(buf.data(), dt, reversed, dt));
}

void save_npy(const std::string& path, const Array& arr) {
  arr.check_valid("save_npy");
  // The bytes are written from the host: a GPU array is copied back first.
  Array a = to_device(arr, Device::cpu);
  const char* descr = descr_of(a.dtype());
  if (!descr)
    throw Error("[npy] cannot write " + path + ": " + a.dtype().name() +
                " has no .npy type code (convert to float32 first)");
  // Computed without an eval(): saving must not free the caller's arrays.
  if (!a.is_available()) eval_nodes({a.node_ptr()}, true);
  const auto& node = a.node();
  node.wait();
  bool c = dense_order(node.shape, node.strides, true);
  bool fortran = !c && node.shape.size() >= 2 && dense_order(node.shape, node.strides, false);
  std::vector<char> buf;
  const void* data = node.nbytes() ? node.raw() : nullptr;
  if (!c && !fortran && node.nbytes()) {
    buf.resize(node.nbytes());
    cpu::gather_contiguous(node, buf.data());
    data = buf.data();
  }
  std::string header = serialize_npy_header(
      descr, fortran, std::vector<int64_t>(node.shape.begin(), node.shape.end()));
  std::string tmp = path + ".tmp";
  FILE* out = std::fopen(tmp.c_str(), "wb");
  if (!out) throw Error("[npy] cannot write " + path);
  bool ok = std::fwrite(header.data(), 1, header.size(), out) == header.size();
  if (ok && node.nbytes()) ok = std::fwrite(data, 1, node.nbytes(), out) == node.nbytes();
  ok = std::fclose(out) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("[npy] writing " + path + " failed");
  }
}

}  // namespace lathe::io
