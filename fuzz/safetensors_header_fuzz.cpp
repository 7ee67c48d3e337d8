// libFuzzer target: any bytes given to the safetensors header parser either
// parse or raise lathe::Error; nothing reads out of bounds.
#include <cstddef>
#include <cstdint>

#include "lathe/core/error.h"
#include "lathe/io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto h = lathe::io::parse_safetensors_header(data, size, size, "fuzz");
    // Every accepted tensor lies inside the input.
    for (const auto& t : h.tensors) {
      if (h.data_offset + t.end > size) __builtin_trap();
    }
  } catch (const lathe::Error&) {
  }
  return 0;
}
