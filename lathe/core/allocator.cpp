#include "lathe/core/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "lathe/core/error.h"

namespace lathe {

Buffer::~Buffer() {
  if (owner_) owner_->release(ptr_, size_);
}

namespace {

// Blocks are rounded to size classes so that a loop's shapes reuse their blocks.
size_t size_class(size_t n) {
  if (n <= 64) return 64;
  if (n <= 4096) {  // next power of two
    size_t c = 64;
    while (c < n) c <<= 1;
    return c;
  }
  return large_size_class(n);
}

class CpuAllocator final : public Allocator {
 public:
  ~CpuAllocator() override {
    // The process is exiting; return cached blocks to the system.
    for (auto& [size, ptr] : cache_) std::free(ptr);
  }

  std::shared_ptr<Buffer> allocate(size_t bytes) override {
    size_t n = size_class(bytes == 0 ? 1 : bytes);
    void* p = nullptr;
    {
      std::lock_guard lk(mu_);
      if (active_ + n > memory_limit_) {
        throw Error("[memory] allocating " + format_bytes(n) +
                    " would exceed the memory limit of " + format_bytes(memory_limit_) + " (" +
                    format_bytes(active_) + " active); free arrays or raise set_memory_limit()");
      }
      auto it = cache_.find(n);
      if (it != cache_.end()) {
        p = it->second;
        cache_.erase(it);
        cached_ -= n;
      }
      active_ += n;
      if (active_ > peak_) peak_ = active_;
    }
    if (!p) {
      p = std::aligned_alloc(64, n);
      if (!p) {
        clear_cache();
        p = std::aligned_alloc(64, n);
      }
      if (!p) {
        std::lock_guard lk(mu_);
        active_ -= n;
        throw Error("[memory] the system could not provide " + format_bytes(n));
      }
    }
    return std::make_shared<Buffer>(p, n, this);
  }

  void release(void* ptr, size_t size) override {
    std::lock_guard lk(mu_);
    active_ -= size;
    if (cached_ + size <= cache_limit_) {
      cache_.emplace(size, ptr);
      cached_ += size;
    } else {
      std::free(ptr);
    }
  }

  size_t active_memory() const override {
    std::lock_guard lk(mu_);
    return active_;
  }
  size_t peak_memory() const override {
    std::lock_guard lk(mu_);
    return peak_;
  }
  void reset_peak_memory() override {
    std::lock_guard lk(mu_);
    peak_ = active_;
  }
  size_t cache_memory() const override {
    std::lock_guard lk(mu_);
    return cached_;
  }
  void clear_cache() override {
    std::lock_guard lk(mu_);
    for (auto& [size, ptr] : cache_) std::free(ptr);
    cache_.clear();
    cached_ = 0;
  }
  size_t set_memory_limit(size_t bytes) override {
    std::lock_guard lk(mu_);
    size_t old = memory_limit_;
    memory_limit_ = bytes;
    return old;
  }
  size_t set_cache_limit(size_t bytes) override {
    std::lock_guard lk(mu_);
    size_t old = cache_limit_;
    cache_limit_ = bytes;
    while (cached_ > cache_limit_ && !cache_.empty()) {
      auto it = std::prev(cache_.end());
      cached_ -= it->first;
      std::free(it->second);
      cache_.erase(it);
    }
    return old;
  }

 private:
  mutable std::mutex mu_;
  std::multimap<size_t, void*> cache_;
  size_t active_ = 0, peak_ = 0, cached_ = 0;
  size_t memory_limit_ = SIZE_MAX;
  size_t cache_limit_ = SIZE_MAX;
};

}  // namespace

std::string format_bytes(size_t b) {
  char s[64];
  if (b >= (size_t(1) << 30)) {
    snprintf(s, sizeof s, "%.2f GiB", double(b) / double(size_t(1) << 30));
  } else if (b >= (size_t(1) << 20)) {
    snprintf(s, sizeof s, "%.2f MiB", double(b) / double(size_t(1) << 20));
  } else {
    snprintf(s, sizeof s, "%zu bytes", b);
  }
  return s;
}

// Steps of 1/8 of the next power of two, at most 2 MiB: a loop's slightly different sizes still
// share blocks, and a large weight (a 100 MiB projection) wastes at most 2 MiB, not 12%.
size_t large_size_class(size_t n) {
  size_t p = 4096;
  while (p < n) p <<= 1;
  const size_t step = std::min(p / 8, size_t(2) << 20);
  return (n + step - 1) / step * step;
}

Allocator& cpu_allocator() {
  // Never destroyed: buffers may outlive static destruction order.
  static auto* a = new CpuAllocator();
  return *a;
}

}  // namespace lathe
