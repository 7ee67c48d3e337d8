// The .npy header (numpy's format versions 1.0, 2.0 and 3.0): parsed and
// validated against the file length, and written as numpy.save writes it.
// Self-contained (no arrays) so that the fuzzer can drive it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lathe::io {

struct NpyHeader {
  int major = 1, minor = 0;
  char kind = 'f';   // 'b' bool, 'u' unsigned, 'i' signed, 'f' float
  int itemsize = 4;  // bytes per element in the file
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  uint64_t data_offset = 0;  // where the element bytes start
  uint64_t data_bytes = 0;   // product(shape) * itemsize
};

// Largest header text accepted (numpy itself refuses more than 10000 bytes
// unless asked; large-ndim headers stay far below this).
inline constexpr uint64_t kMaxNpyHeaderSize = 1 << 20;

// Parses the header at the start of a file of `file_size` bytes; `bytes`
// holds at least min(file_size, the header's end) bytes. Refuses dtypes lathe
// has no type for (complex, object, structured, uint64, ...) and files shorter
// than the data the header declares (trailing bytes are ignored, as numpy
// does). Throws lathe::Error "[npy] LABEL: what is wrong".
NpyHeader parse_npy_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                           const std::string& label);

// The bytes numpy.save writes before the data: magic, version 1.0 (2.0 when
// the header is longer than 65535), the dict literal with sorted keys, the
// growth-axis spare spaces, padding to a multiple of 64 and '\n'.
// `descr` is e.g. "<f4" or "|u1".
std::string serialize_npy_header(const std::string& descr, bool fortran_order,
                                 const std::vector<int64_t>& shape);

}  // namespace lathe::io
