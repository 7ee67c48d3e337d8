// The ring-buffer cache of sliding-window layers (see rotating_kv_cache.h).
#include "lathe/cache/rotating_kv_cache.h"

#include <algorithm>
#include <limits>
#include <string>

#include "lathe/ops/creation.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"

namespace lathe {

namespace {

Array write_slots(const Array& buffer, const Array& update, int slot) {
  const Shape& s = update.shape();
  return slice_update(buffer, update, {0, 0, slot, 0}, {s[0], s[1], slot + s[2], s[3]});
}

}  // namespace

RotatingKVCache::RotatingKVCache(int window, int max_tokens) : window_(window), capacity_(window) {
  if (window <= 0 || max_tokens < 0) {
    op_error("rotating_kv_cache", "window " + std::to_string(window) +
                                      " must be positive and max_tokens " +
                                      std::to_string(max_tokens) + " >= 0");
  }
  if (max_tokens > 0) capacity_ = std::min(window, max_tokens);
}

void RotatingKVCache::allocate(const Array& keys, const Array& values) {
  const int64_t b = keys.shape(0), h = keys.shape(1);
  keys_ = zeros({b, h, capacity_, keys.shape(3)}, keys.dtype());
  values_ = zeros({b, h, capacity_, values.shape(3)}, values.dtype());
}

void RotatingKVCache::grow() {
  // Only while the ring has not wrapped: the filled prefix moves as is.
  Array old_keys = *keys_, old_values = *values_;
  capacity_ = window_;
  allocate(old_keys, old_values);
  if (offset_ > 0) {
    store(slice_axis(old_keys, 2, 0, offset_), slice_axis(old_values, 2, 0, offset_), 0);
  }
}

std::pair<Array, Array> RotatingKVCache::ordered() const {
  if (offset_ <= capacity_) {
    return {slice_axis(*keys_, 2, 0, offset_), slice_axis(*values_, 2, 0, offset_)};
  }
  // Ring full: the oldest position sits in slot offset % capacity.
  const int split = offset_ % capacity_;
  if (split == 0) return {*keys_, *values_};
  auto rotate = [&](const Array& a) {
    return concatenate({slice_axis(a, 2, split, capacity_), slice_axis(a, 2, 0, split)}, 2);
  };
  return {rotate(*keys_), rotate(*values_)};
}

void RotatingKVCache::store(const Array& keys, const Array& values, int first) {
  const int n = static_cast<int>(keys.shape(2));
  const int slot = first % capacity_;
  const int head = std::min(n, capacity_ - slot);  // positions before the ring wraps
  keys_ = write_slots(*keys_, slice_axis(keys, 2, 0, head), slot);
  values_ = write_slots(*values_, slice_axis(values, 2, 0, head), slot);
  if (head < n) {
    keys_ = write_slots(*keys_, slice_axis(keys, 2, head, n), 0);
    values_ = write_slots(*values_, slice_axis(values, 2, head, n), 0);
  }
}

void RotatingKVCache::prepare(const char* op, const Array& keys, const Array& values) {
  detail::check_kv(op, keys, values, std::nullopt, std::nullopt);
  if (offset_ > 0) {
    detail::check_kv(op, keys, values, keys_, values_);
  } else if (!keys_ || keys.shape(0) != keys_->shape(0) || keys.shape(1) != keys_->shape(1) ||
             keys.shape(3) != keys_->shape(3) || values.shape(3) != values_->shape(3) ||
             keys.dtype() != keys_->dtype()) {
    allocate(keys, values);
  }
}

int RotatingKVCache::step_limit() const {
  return capacity_ == window_ ? std::numeric_limits<int>::max() : capacity_;
}

KVStep RotatingKVCache::update_at(const Array& keys, const Array& values, StepPosition& at) {
  const char* op = "rotating_kv_cache";
  prepare(op, keys, values);
  detail::check_step(op, keys, at);
  if (offset_ + 1 > capacity_ && capacity_ < window_) grow();
  keys_ = scatter(*keys_, at.slot(capacity_), keys, 2);
  values_ = scatter(*values_, at.slot(capacity_), values, 2);
  offset_ += 1;
  return {*keys_, *values_, at.length(capacity_)};
}

std::pair<Array, Array> RotatingKVCache::update(const Array& keys, const Array& values) {
  prepare("rotating_kv_cache", keys, values);
  const int t = static_cast<int>(keys.shape(2));
  const int total = offset_ + t;
  if (total > capacity_ && capacity_ < window_) grow();

  if (total <= capacity_) {  // the ring has not wrapped: a plain prefix
    store(keys, values, offset_);
    offset_ = total;
    return {slice_axis(*keys_, 2, 0, offset_), slice_axis(*values_, 2, 0, offset_)};
  }
  if (t == 1) {  // decode: overwrite the oldest slot; one query sees the whole ring
    store(keys, values, offset_);
    offset_ = total;
    return {*keys_, *values_};
  }
  // A chunk: attention needs what the ring held before it, then the chunk.
  Array all_keys = keys, all_values = values;
  if (offset_ > 0) {
    auto [old_keys, old_values] = ordered();
    all_keys = concatenate({old_keys, keys}, 2);
    all_values = concatenate({old_values, values}, 2);
  }
  const int len = static_cast<int>(all_keys.shape(2));
  const int keep_n = std::min(capacity_, total);
  store(slice_axis(all_keys, 2, len - keep_n, len), slice_axis(all_values, 2, len - keep_n, len),
        total - keep_n);
  offset_ = total;
  return {all_keys, all_values};
}

std::vector<Array> RotatingKVCache::state() const {
  if (!keys_) return {};
  return {*keys_, *values_};
}

}  // namespace lathe
