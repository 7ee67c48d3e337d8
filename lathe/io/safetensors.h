// Reading and writing safetensors files as lathe arrays. Reads are lazy and
// zero-copy where the layout allows: a tensor becomes an array whose bytes are
// read from the memory-mapped file when it is evaluated.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lathe/core/array.h"
#include "lathe/io/safetensors_header.h"

namespace lathe::io {

class MappedFile;

// The lathe dtype a file dtype loads as (I16/U16 widen to int32; the F8 kinds
// convert exactly to bfloat16).
Dtype load_dtype(StDtype d);

class SafetensorsFile {
 public:
  // Maps the file and validates its header; throws lathe::Error naming the file.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const;
  const StHeader& header() const { return header_; }
  bool contains(const std::string& name) const { return header_.find(name) != nullptr; }
  // A lazy array reading the tensor's bytes at evaluation.
  Array load(const std::string& name) const;
  std::map<std::string, Array> load_all() const;

 private:
  std::shared_ptr<MappedFile> file_;
  StHeader header_;
};

// Loads every tensor of one file (lazily).
std::map<std::string, Array> load_safetensors(const std::string& path);

// Writes tensors byte-for-byte as the reference implementation does: ordered
// by dtype (widest first) then name, header padded to 8 bytes.
void save_safetensors(const std::string& path, const std::map<std::string, Array>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace lathe::io
