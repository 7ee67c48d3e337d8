// Load: an array whose bytes come from a memory-mapped file.
#pragma once

#include <memory>

#include "lathe/core/primitive.h"
#include "lathe/io/mapped_file.h"
#include "lathe/io/safetensors_header.h"

namespace lathe {

class Load : public Primitive {
 public:
  Load(std::shared_ptr<io::MappedFile> file, uint64_t offset, io::StDtype dtype)
      : file_(std::move(file)), offset_(offset), dtype_(dtype) {}
  const char* name() const override { return "load"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  bool equivalent(const Primitive& o) const override {
    auto& p = static_cast<const Load&>(o);
    return p.file_ == file_ && p.offset_ == offset_ && p.dtype_ == dtype_;
  }

 private:
  std::shared_ptr<io::MappedFile> file_;
  uint64_t offset_;  // absolute byte offset of the tensor in the file
  io::StDtype dtype_;
};

}  // namespace lathe
