// libFuzzer target: any bytes given to the .npy header parser either parse or
// raise lathe::Error; an accepted header's data lies inside the input, and
// writing the parsed header back parses to the same header.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lathe/core/error.h"
#include "lathe/io/npy_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lathe::io;
  NpyHeader h;
  try {
    h = parse_npy_header(data, size, size, "fuzz");
  } catch (const lathe::Error&) {
    return 0;
  }
  if (h.data_offset + h.data_bytes > size) __builtin_trap();
  std::string descr = std::string(h.big_endian ? ">" : "<") + h.kind + std::to_string(h.itemsize);
  std::string again = serialize_npy_header(descr, h.fortran_order, h.shape);
  if (again.size() % 64 != 0) __builtin_trap();
  // The rewritten header needs its data bytes to parse; only check small ones.
  if (h.data_bytes <= 4096) {
    again.append(h.data_bytes, '\0');
    NpyHeader g = parse_npy_header(reinterpret_cast<const uint8_t*>(again.data()), again.size(),
                                   again.size(), "fuzz");
    if (g.shape != h.shape || g.kind != h.kind || g.itemsize != h.itemsize ||
        g.fortran_order != h.fortran_order || g.big_endian != h.big_endian)
      __builtin_trap();
  }
  return 0;
}
