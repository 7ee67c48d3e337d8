// Observing and bounding memory: byte counters, limits, and the live arrays.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// Each device has its own allocator, figures and limits (host memory by
// default; Device::cuda reads the GPU's, and throws in builds without CUDA).
size_t active_memory(Device device = Device::cpu);
size_t peak_memory(Device device = Device::cpu);
void reset_peak_memory(Device device = Device::cpu);
size_t cache_memory(Device device = Device::cpu);
void clear_cache(Device device = Device::cpu);
// Exceeding the limit makes the allocation throw lathe::Error (on the GPU,
// after the cache was freed and the allocation retried). Returns the old limit.
size_t set_memory_limit(size_t bytes, Device device = Device::cpu);
size_t set_cache_limit(size_t bytes, Device device = Device::cpu);

struct LiveArray {
  uint64_t id;
  Shape shape;
  Dtype dtype;
  size_t nbytes;
  bool kept;
  bool computed;
};

// The arrays this thread tracks that are alive and not freed.
struct LiveArrays {
  size_t kept = 0;
  size_t unkept = 0;
  size_t bytes = 0;                // bytes held by their computed data (shared buffers once)
  std::vector<LiveArray> largest;  // by size, at most `top`
  std::string str() const;
};

LiveArrays live_arrays(size_t top = 10);

}  // namespace lathe
