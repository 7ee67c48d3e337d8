// The key/value cache of a sliding-window attention layer: a ring of `window`
// positions, so its memory does not grow with the conversation.
#pragma once

#include <optional>

#include "lathe/cache/kv_cache.h"

namespace lathe {

// Position p lives in slot p % window. A one-position update writes its slot
// in place; an update of T > 1 positions returns the previous positions the
// ring holds (in time order) followed by the new ones, so that the layer's
// causal + window mask over them is exact even when T exceeds the window,
// and then stores only the last `window` positions.
class RotatingKVCache : public KVCache {
 public:
  // max_tokens > 0 and smaller than the window: the ring starts that small
  // (and widens to the window if more positions come).
  explicit RotatingKVCache(int window, int max_tokens = 0);
  std::pair<Array, Array> update(const Array& keys, const Array& values) override;
  // Writes slot position % capacity; reads min(position + 1, capacity) slots.
  KVStep update_at(const Array& keys, const Array& values, StepPosition& at) override;
  // A ring of the whole window never reallocates; a smaller one widens at its size.
  int step_limit() const override;
  void advance(int n) override { offset_ += n; }
  int offset() const override { return offset_; }
  std::vector<Array> state() const override;
  void reset() override { offset_ = 0; }
  int window() const { return window_; }

 private:
  void allocate(const Array& keys, const Array& values);
  // Checks keys/values against the buffers, allocating them for a first update.
  void prepare(const char* op, const Array& keys, const Array& values);
  // Widens a ring sized for max_tokens < window to the full window.
  void grow();
  // The positions the ring holds, oldest first.
  std::pair<Array, Array> ordered() const;
  // Writes positions [first, first + n) (`keys`/`values` hold exactly them) into their slots.
  void store(const Array& keys, const Array& values, int first);

  int window_;
  int capacity_;
  int offset_ = 0;
  std::optional<Array> keys_, values_;
};

}  // namespace lathe
