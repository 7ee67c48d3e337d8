// The GPU's caching allocator (cudaMalloc, no managed memory). Blocks remember
// the streams that used them so that reuse on another stream is ordered.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "lathe/core/allocator.h"

namespace lathe::cuda {

class DeviceAllocator : public Allocator {
 public:
  // Adds `stream` to the streams that used the block at ptr, first calling
  // wait(other) for each other stream that used it.
  virtual void order(void* ptr, int stream, const std::function<void(int)>& wait) = 0;
  // While `sink` is set, every buffer allocated is also appended to it (a device
  // graph being recorded keeps them for its lifetime); null stops.
  virtual void hold_new_buffers(std::vector<std::shared_ptr<Buffer>>* sink) = 0;
};

DeviceAllocator& device_allocator();

}  // namespace lathe::cuda
