// Random numbers from explicit keys (counter-based threefry-2x32, see
// lathe/primitives/random.h for how each value is derived from key and index).
// A key is a uint32 array of shape [2]; the same key always gives the same
// numbers. The overloads without a key draw a fresh subkey from the global key.
#pragma once

#include <cstdint>
#include <optional>

#include "lathe/core/array.h"

namespace lathe::random {

// The key (seed >> 32, seed & 0xffffffff), computed at once.
Array key(uint64_t seed);
// num independent keys derived from key: shape [num, 2]; row i is block(key, i).
Array split(const Array& key, int num = 2);
// Row i of keys ([n, 2]) as a key of shape [2].
Array key_at(const Array& keys, int64_t i);

// The global key is one per process, shared by all threads and thread-safe:
// each keyless draw takes the next subkey under a mutex, the n-th one being
// split(key(seed), n + 1)[n]. Without a call to seed() it starts from a
// nondeterministic seed.
void seed(uint64_t s);
// The next subkey of the global key (what keyless draws use).
Array next_key();

// Raw bits; width in bytes: 4 (uint32) or 1 (uint8).
Array bits(const Shape& shape, int width, const Array& key);
Array bits(const Shape& shape, int width = 4);

// Uniform in [low, high); dtype floating.
Array uniform(const Shape& shape, Dtype dtype, const Array& key, double low = 0.0,
              double high = 1.0);
Array uniform(const Shape& shape, Dtype dtype = float32, double low = 0.0, double high = 1.0);

// Normal with mean loc and standard deviation scale (inverse CDF of a 53-bit uniform).
Array normal(const Shape& shape, Dtype dtype, const Array& key, double loc = 0.0,
             double scale = 1.0);
Array normal(const Shape& shape, Dtype dtype = float32, double loc = 0.0, double scale = 1.0);

// Standard Gumbel: -log(-log(u)).
Array gumbel(const Shape& shape, Dtype dtype, const Array& key);
Array gumbel(const Shape& shape, Dtype dtype = float32);

// Integers uniform in [low, high); dtype integral.
Array randint(int64_t low, int64_t high, const Shape& shape, Dtype dtype, const Array& key);
Array randint(int64_t low, int64_t high, const Shape& shape, Dtype dtype = int32);

// true with probability p (p broadcasts to shape); bool.
Array bernoulli(const Array& p, const Shape& shape, const Array& key);
Array bernoulli(const Array& p, const Shape& shape);

// Class indices (int32) sampled from softmax(logits) along axis (Gumbel-max).
// Without num_samples the axis is removed; with it, num_samples draws per row
// are appended as the last dimension.
Array categorical(const Array& logits, int axis, const Array& key,
                  std::optional<int> num_samples = std::nullopt);
Array categorical(const Array& logits, int axis = -1);
Array categorical(const Array& logits, int axis, int num_samples);

}  // namespace lathe::random
