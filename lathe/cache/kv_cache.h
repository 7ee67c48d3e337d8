// Key/value caches for attention. The contract every model and the generation
// loop rely on; implementations live beside this file.
#pragma once

#include <memory>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// One attention layer's cache. Keys and values are [B, H_kv, T, D].
class KVCache {
 public:
  virtual ~KVCache() = default;
  // Appends T new positions and returns the keys and values attention should
  // read (all positions so far, or the window for a rotating cache), plus
  // whatever the layer needs to build its mask (see attention_mask_offset()).
  virtual std::pair<Array, Array> update(const Array& keys, const Array& values) = 0;
  // Positions seen so far (the rope offset of the next token).
  virtual int offset() const = 0;
  // The arrays to keep() after each step (the preallocated buffers).
  virtual std::vector<Array> state() const = 0;
  // Drops everything (a new conversation) without freeing the buffers.
  virtual void reset() = 0;
};

using KVCaches = std::vector<std::unique_ptr<KVCache>>;

// All keep()-able arrays of a set of caches.
std::vector<Array> cache_state(const KVCaches& caches);

}  // namespace lathe
