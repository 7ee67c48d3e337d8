// Observing and bounding memory: byte counters, limits, and the live arrays.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

size_t active_memory();
size_t peak_memory();
void reset_peak_memory();
size_t cache_memory();
void clear_cache();
// Exceeding the limit makes the allocation throw lathe::Error. Returns the old limit.
size_t set_memory_limit(size_t bytes);
size_t set_cache_limit(size_t bytes);

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
  size_t bytes = 0;               // bytes held by their computed data (shared buffers once)
  std::vector<LiveArray> largest;  // by size, at most `top`
  std::string str() const;
};

LiveArrays live_arrays(size_t top = 10);

}  // namespace lathe
