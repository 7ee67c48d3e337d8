// Host memory: a caching allocator with active/peak/cache accounting and limits.
// Buffers are reference counted; the last reference returns the block to the cache.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace lathe {

class Allocator;

// One allocation. Destroying the last shared_ptr<Buffer> gives the block back.
class Buffer {
 public:
  Buffer(void* ptr, size_t size, Allocator* owner) : ptr_(ptr), size_(size), owner_(owner) {}
  // Memory owned elsewhere (a mapped file): kept alive by `keepalive`, never returned.
  Buffer(void* ptr, size_t size, std::shared_ptr<const void> keepalive)
      : ptr_(ptr), size_(size), owner_(nullptr), keepalive_(std::move(keepalive)) {}
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* ptr() const { return ptr_; }
  size_t size() const { return size_; }
  // False for foreign memory (mapped files): never written in place.
  bool owned() const { return owner_ != nullptr; }

 private:
  void* ptr_;
  size_t size_;
  Allocator* owner_;
  std::shared_ptr<const void> keepalive_;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Throws lathe::Error when the memory limit would be exceeded or the system is out.
  virtual std::shared_ptr<Buffer> allocate(size_t bytes) = 0;
  virtual void release(void* ptr, size_t size) = 0;
  virtual size_t active_memory() const = 0;
  virtual size_t peak_memory() const = 0;
  virtual void reset_peak_memory() = 0;
  virtual size_t cache_memory() const = 0;
  virtual void clear_cache() = 0;
  virtual size_t set_memory_limit(size_t bytes) = 0;  // returns the previous limit
  virtual size_t set_cache_limit(size_t bytes) = 0;
};

Allocator& cpu_allocator();

// Shared by the device allocators.
// Byte counts for error messages ("1.50 MiB").
std::string format_bytes(size_t bytes);
// Above 4 KiB, blocks round up to 1/8 of the next power of two (waste at most
// 12.5%), so that a loop's slightly different sizes reuse the same blocks.
size_t large_size_class(size_t bytes);
// Device memory (lathe/backend/cuda); throws without the CUDA backend.
Allocator& cuda_allocator();

}  // namespace lathe
