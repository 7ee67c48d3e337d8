// GPU memory: size-class caching over cudaMalloc with the CPU allocator's
// figures and limits. Out of memory frees the cache and retries once.
#include "lathe/backend/cuda/allocator.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "lathe/backend/cuda/runtime.h"
#include "lathe/core/error.h"

namespace lathe {

namespace cuda {

namespace {

// 256-byte granularity (cudaMalloc's alignment), then 1/8 of the next power of two.
size_t size_class(size_t n) {
  if (n <= 4096) return (n + 255) / 256 * 256;
  return large_size_class(n);
}

class CudaAllocator final : public DeviceAllocator {
 public:
  std::shared_ptr<Buffer> allocate(size_t bytes) override {
    const size_t n = size_class(bytes == 0 ? 1 : bytes);
    const int stream = current_stream_id();
    void* p = nullptr;
    std::vector<int> waits;
    {
      std::lock_guard lk(mu_);
      if (active_ + n > memory_limit_) {
        throw Error("[memory] allocating " + format_bytes(n) +
                    " on cuda would exceed the memory limit of " + format_bytes(memory_limit_) +
                    " (" + format_bytes(active_) +
                    " active); free arrays or raise set_memory_limit(bytes, Device::cuda)");
      }
      p = take_cached(n, stream, waits);
      active_ += n;
      peak_ = std::max(peak_, active_);
    }
    // A block last used by other streams: this stream waits for their work on it.
    for (int other : waits) {
      cudaEvent_t ev = nullptr;
      check(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "memory");
      check(cudaEventRecord(ev, existing_stream(other)), "memory");
      check(cudaStreamWaitEvent(current_stream(), ev, 0), "memory");
      cudaEventDestroy(ev);
    }
    if (!p) p = fresh(n);
    auto buffer = std::make_shared<Buffer>(p, n, this);
    std::lock_guard lk(mu_);
    if (hold_) hold_->push_back(buffer);
    return buffer;
  }

  void hold_new_buffers(std::vector<std::shared_ptr<Buffer>>* sink) override {
    std::lock_guard lk(mu_);
    hold_ = sink;
  }

  void release(void* ptr, size_t size) override {
    std::lock_guard lk(mu_);
    active_ -= size;
    if (cached_ + size <= cache_limit_) {
      cache_.emplace(size, ptr);
      cached_ += size;
    } else {
      free_blocks({ptr});
    }
  }

  void order(void* ptr, int stream, const std::function<void(int)>& wait) override {
    std::vector<int> others;
    {
      std::lock_guard lk(mu_);
      auto it = users_.find(ptr);
      if (it == users_.end()) return;
      auto& u = it->second;
      if (std::find(u.begin(), u.end(), stream) != u.end()) return;
      others = u;
      u.push_back(stream);
    }
    for (int o : others) wait(o);
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
    clear_cache_locked();
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
    std::vector<void*> drop;
    while (cached_ > cache_limit_ && !cache_.empty()) {
      auto it = std::prev(cache_.end());
      cached_ -= it->first;
      drop.push_back(it->second);
      cache_.erase(it);
    }
    free_blocks(drop);
    return old;
  }

 private:
  // A cached block of size n, preferring one this stream used last; the
  // streams to wait for go to `waits`. Null when none is cached.
  void* take_cached(size_t n, int stream, std::vector<int>& waits) {
    auto [lo, hi] = cache_.equal_range(n);
    if (lo == hi) return nullptr;
    auto pick = lo;
    for (auto it = lo; it != hi; ++it) {
      const auto& u = users_[it->second];
      if (u.size() == 1 && u[0] == stream) {
        pick = it;
        break;
      }
    }
    void* p = pick->second;
    cache_.erase(pick);
    cached_ -= n;
    auto& u = users_[p];
    for (int s : u) {
      if (s != stream) waits.push_back(s);
    }
    u.assign(1, stream);
    return p;
  }

  void* fresh(size_t n) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, n);
    size_t cleared = 0;
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::lock_guard lk(mu_);
      cleared = cached_;
      clear_cache_locked();
      err = cudaMalloc(&p, n);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      std::lock_guard lk(mu_);
      active_ -= n;
      throw Error("[memory] the GPU could not provide " + format_bytes(n) + " (" +
                  format_bytes(active_) + " active in lathe, " + format_bytes(cleared) +
                  " of cache freed and retried, " + format_bytes(free_b) + " free of " +
                  format_bytes(total_b) + "): " + cudaGetErrorString(err));
    }
    std::lock_guard lk(mu_);
    users_[p].assign(1, current_stream_id());
    return p;
  }

  void clear_cache_locked() {
    std::vector<void*> drop;
    for (auto& [size, ptr] : cache_) drop.push_back(ptr);
    cache_.clear();
    cached_ = 0;
    free_blocks(drop);
  }

  // Pending kernels may still use cached blocks of other streams: wait for the device first.
  void free_blocks(const std::vector<void*>& blocks) {
    if (blocks.empty()) return;
    cudaDeviceSynchronize();
    for (void* p : blocks) {
      cudaFree(p);
      users_.erase(p);
    }
  }

  mutable std::mutex mu_;
  std::multimap<size_t, void*> cache_;
  std::unordered_map<void*, std::vector<int>> users_;  // streams that used each block
  size_t active_ = 0, peak_ = 0, cached_ = 0;
  size_t memory_limit_ = SIZE_MAX;
  std::vector<std::shared_ptr<Buffer>>* hold_ = nullptr;  // a device graph being recorded
  size_t cache_limit_ = SIZE_MAX;
};

}  // namespace

DeviceAllocator& device_allocator() {
  // Never destroyed: buffers may outlive static destruction order.
  static auto* a = new CudaAllocator();
  return *a;
}

}  // namespace cuda

Allocator& cuda_allocator() { return cuda::device_allocator(); }

}  // namespace lathe
