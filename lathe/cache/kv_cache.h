// Key/value caches for attention. The contract every model and the generation
// loop rely on, and the standard preallocated cache; the rotating cache for
// sliding-window layers is in rotating_kv_cache.h.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// A decode step's position as data (an int32 scalar on the model's device) and
// what the caches derive from it, made once per step and shared by the layers.
class StepPosition {
 public:
  explicit StepPosition(Array position) : position_(std::move(position)) {}
  const Array& position() const { return position_; }
  // [1]: the slot of the position in a ring of n slots (position % n); n = 0: no ring.
  const Array& slot(int n);
  // Scalar: the keys a cache of n slots holds after writing the position
  // (min(position + 1, n)); n = 0: position + 1.
  const Array& length(int n);

 private:
  Array position_;
  std::map<int, Array> slots_, lengths_;
};

// What KVCache::update_at returns: the cache's whole buffers and how many of
// their keys attention reads (fast::AttentionOptions::kv_length).
struct KVStep {
  Array keys, values, length;
};

// One attention layer's cache. Keys and values are [B, H_kv, T, D].
class KVCache {
 public:
  virtual ~KVCache() = default;
  // Appends T new positions and returns the keys and values attention should
  // read. They are in time order and end with the new positions, so a layer
  // masks them as queries aligned to the end of the keys (causal, plus the
  // window for a rotating cache). The one exception: a single-position update
  // to a full rotating cache returns its buffer in ring order, which is exact
  // because a single query may see every position the ring holds.
  virtual std::pair<Array, Array> update(const Array& keys, const Array& values) = 0;
  // Decode with the position as data: writes one position (keys and values
  // [B, H_kv, 1, D]) at at.position(), which must hold offset(), and returns the
  // whole buffers with the number of keys to read. Attention over them is
  // exact (a ring's slots in any order: one query sees all it holds), and the
  // step's shapes and buffers stay the same from one token to the next while
  // offset() < step_limit(), so that a device graph can replay it.
  // Caches that cannot (the default) throw lathe::Error.
  virtual KVStep update_at(const Array& keys, const Array& values, StepPosition& at);
  // The first offset at which update_at would reallocate the buffers (0: never replayable).
  virtual int step_limit() const { return 0; }
  // Counts n positions that a replayed step wrote (offset() advances).
  virtual void advance(int n);
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

// Keys and values in buffers of `capacity` positions, written in place with
// slice_update (the buffers are donated when the loop keeps only the cache's
// state), returning views of the filled prefix. max_tokens > 0 sizes the
// buffers up front; past it, or with max_tokens = 0, they grow by `step`.
class StandardKVCache : public KVCache {
 public:
  explicit StandardKVCache(int max_tokens = 0, int step = 256);
  std::pair<Array, Array> update(const Array& keys, const Array& values) override;
  KVStep update_at(const Array& keys, const Array& values, StepPosition& at) override;
  int step_limit() const override { return capacity(); }
  void advance(int n) override { offset_ += n; }
  int offset() const override { return offset_; }
  std::vector<Array> state() const override;
  void reset() override { offset_ = 0; }
  // Positions the buffers hold now (0 before the first update).
  int capacity() const;

 private:
  void reserve(const Array& keys, const Array& values, int needed);

  int max_tokens_;
  int step_;
  int offset_ = 0;
  std::optional<Array> keys_, values_;
};

namespace detail {
// Checks keys/values [B, H, T, D] agree with each other (and with the cache's
// buffers when given); throws lathe::Error naming `op`.
void check_kv(const char* op, const Array& keys, const Array& values,
              const std::optional<Array>& key_buffer, const std::optional<Array>& value_buffer);
// Checks update_at's arguments: one new position, the step's position an int32 scalar.
void check_step(const char* op, const Array& keys, const StepPosition& at);
}  // namespace detail

}  // namespace lathe
