// The standard key/value cache: preallocated buffers updated in place.
#include "lathe/cache/kv_cache.h"

#include <string>

#include "lathe/ops/creation.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"

namespace lathe {

std::vector<Array> cache_state(const KVCaches& caches) {
  std::vector<Array> out;
  for (const auto& c : caches) {
    auto s = c->state();
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

const Array& StepPosition::slot(int n) {
  auto it = slots_.find(n);
  if (it != slots_.end()) return it->second;
  Array p = reshape(position_, {1});
  return slots_.emplace(n, n > 0 ? remainder(p, Array(n)) : p).first->second;
}

const Array& StepPosition::length(int n) {
  auto it = lengths_.find(n);
  if (it != lengths_.end()) return it->second;
  Array next = position_ + Array(1);
  return lengths_.emplace(n, n > 0 ? minimum(next, Array(n)) : next).first->second;
}

KVStep KVCache::update_at(const Array&, const Array&, StepPosition&) {
  op_error("kv_cache", "this cache does not take positions as data (update_at)");
}

void KVCache::advance(int) {
  op_error("kv_cache", "this cache does not take positions as data (advance)");
}

namespace detail {

void check_step(const char* op, const Array& keys, const StepPosition& at) {
  const Array& p = at.position();
  p.check_valid(op);
  if (p.ndim() != 0 || p.dtype() != int32) {
    op_error(op, "the step's position must be an int32 scalar, got " + shape_str(p.shape()) +
                     " " + p.dtype().name());
  }
  if (keys.shape(2) != 1) {
    op_error(op, "update_at writes one position, got " + std::to_string(keys.shape(2)));
  }
}

void check_kv(const char* op, const Array& keys, const Array& values,
              const std::optional<Array>& key_buffer, const std::optional<Array>& value_buffer) {
  keys.check_valid(op);
  values.check_valid(op);
  if (keys.ndim() != 4 || values.ndim() != 4) {
    op_error(op, "keys and values must be 4-D [batch, kv heads, tokens, features], got " +
                     shape_str(keys.shape()) + " and " + shape_str(values.shape()));
  }
  if (keys.shape(0) != values.shape(0) || keys.shape(1) != values.shape(1) ||
      keys.shape(2) != values.shape(2)) {
    op_error(op, "keys " + shape_str(keys.shape()) + " and values " + shape_str(values.shape()) +
                     " disagree on batch, heads or tokens");
  }
  if (!keys.dtype().is_floating() || keys.dtype() != values.dtype()) {
    op_error(op, std::string("keys and values must share a floating dtype, got ") +
                     keys.dtype().name() + " and " + values.dtype().name());
  }
  if (!key_buffer) return;
  const Shape& kb = key_buffer->shape();
  const Shape& vb = value_buffer->shape();
  if (keys.shape(0) != kb[0] || keys.shape(1) != kb[1] || keys.shape(3) != kb[3] ||
      values.shape(3) != vb[3] || keys.dtype() != key_buffer->dtype()) {
    op_error(op, "keys " + shape_str(keys.shape()) + " " + keys.dtype().name() + " and values " +
                     shape_str(values.shape()) + " do not fit the cache's buffers " +
                     shape_str(kb) + " and " + shape_str(vb) + " " + key_buffer->dtype().name());
  }
}

}  // namespace detail

StandardKVCache::StandardKVCache(int max_tokens, int step) : max_tokens_(max_tokens), step_(step) {
  if (max_tokens < 0 || step <= 0) {
    op_error("kv_cache", "max_tokens " + std::to_string(max_tokens) + " must be >= 0 and step " +
                             std::to_string(step) + " positive");
  }
}

int StandardKVCache::capacity() const { return keys_ ? static_cast<int>(keys_->shape(2)) : 0; }

void StandardKVCache::reserve(const Array& keys, const Array& values, int needed) {
  // A reset cache may be reused for another batch size or dtype.
  if (keys_ && offset_ == 0 &&
      (keys.shape(0) != keys_->shape(0) || keys.shape(1) != keys_->shape(1) ||
       keys.shape(3) != keys_->shape(3) || values.shape(3) != values_->shape(3) ||
       keys.dtype() != keys_->dtype())) {
    keys_.reset();
    values_.reset();
  }
  if (capacity() >= needed) return;
  int cap = (needed + step_ - 1) / step_ * step_;
  if (!keys_ && max_tokens_ >= needed) cap = max_tokens_;
  const int64_t b = keys.shape(0), h = keys.shape(1);
  Array new_keys = zeros({b, h, cap, keys.shape(3)}, keys.dtype());
  Array new_values = zeros({b, h, cap, values.shape(3)}, values.dtype());
  if (keys_ && offset_ > 0) {
    new_keys = slice_update(new_keys, slice_axis(*keys_, 2, 0, offset_), {0, 0, 0, 0},
                            {b, h, offset_, keys.shape(3)});
    new_values = slice_update(new_values, slice_axis(*values_, 2, 0, offset_), {0, 0, 0, 0},
                              {b, h, offset_, values.shape(3)});
  }
  keys_ = new_keys;
  values_ = new_values;
}

std::pair<Array, Array> StandardKVCache::update(const Array& keys, const Array& values) {
  const char* op = "kv_cache";
  detail::check_kv(op, keys, values, std::nullopt, std::nullopt);
  if (offset_ > 0) detail::check_kv(op, keys, values, keys_, values_);
  const int t = static_cast<int>(keys.shape(2));
  reserve(keys, values, offset_ + t);
  const int64_t b = keys.shape(0), h = keys.shape(1);
  // Reassigning drops this cache's handle to the old buffer, so slice_update
  // may take it over in place.
  keys_ = slice_update(*keys_, keys, {0, 0, offset_, 0}, {b, h, offset_ + t, keys.shape(3)});
  values_ =
      slice_update(*values_, values, {0, 0, offset_, 0}, {b, h, offset_ + t, values.shape(3)});
  offset_ += t;
  return {slice_axis(*keys_, 2, 0, offset_), slice_axis(*values_, 2, 0, offset_)};
}

KVStep StandardKVCache::update_at(const Array& keys, const Array& values, StepPosition& at) {
  const char* op = "kv_cache";
  detail::check_kv(op, keys, values, std::nullopt, std::nullopt);
  detail::check_step(op, keys, at);
  if (offset_ > 0) detail::check_kv(op, keys, values, keys_, values_);
  reserve(keys, values, offset_ + 1);
  keys_ = scatter(*keys_, at.slot(0), keys, 2);
  values_ = scatter(*values_, at.slot(0), values, 2);
  offset_ += 1;
  return {*keys_, *values_, at.length(0)};
}

std::vector<Array> StandardKVCache::state() const {
  if (!keys_) return {};
  return {*keys_, *values_};
}

}  // namespace lathe
