// The safetensors header: parsed and fully validated before any tensor data
// is touched. Self-contained (no arrays) so that the fuzzer can drive it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lathe::io {

// The file format's dtypes, in the reference implementation's order (which
// decides the writer's tensor order).
enum class StDtype : uint8_t {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64
};
size_t st_itemsize(StDtype d);
const char* st_name(StDtype d);

struct StTensor {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin;  // byte offsets relative to the start of the data area
  uint64_t end;
};

struct StHeader {
  uint64_t data_offset = 0;       // 8 + header length
  uint64_t data_size = 0;         // bytes after the header, all covered by tensors
  std::vector<StTensor> tensors;  // ordered by offset
  std::map<std::string, std::string> metadata;
  const StTensor* find(const std::string& name) const;
};

// Largest header accepted (the reference implementation's bound).
inline constexpr uint64_t kMaxHeaderSize = 100'000'000;

// Parses and validates the header at the start of a file of file_size bytes;
// `bytes` holds at least min(file_size, 8 + header length) bytes. Throws
// lathe::Error naming `label` (the file) and the offending tensor.
StHeader parse_safetensors_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                                  const std::string& label);

// The header bytes the reference writer produces for these tensors
// (already in writer order, offsets assigned): compact JSON padded with
// spaces to a multiple of 8, preceded by its little-endian length.
std::string serialize_safetensors_header(const std::vector<StTensor>& tensors,
                                         const std::map<std::string, std::string>& metadata);

}  // namespace lathe::io
