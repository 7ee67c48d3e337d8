// The threefry-2x32 block cipher with 20 rounds (Salmon et al. 2011, "Parallel
// random numbers: as easy as 1, 2, 3"), the generator behind lathe::random.
// Shared by the op layer (host-side global key) and every backend, so that a
// key and an element index give the same bits on any device.
#pragma once

#include <array>
#include <cstdint>

namespace lathe::random_detail {

using Word2 = std::array<uint32_t, 2>;

constexpr uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Encrypts the counter `ctr` under `key`.
constexpr Word2 threefry2x32(Word2 key, Word2 ctr) {
  constexpr int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  // The parity word makes the three-word key schedule; the constant is Skein's.
  const uint32_t ks[3] = {key[0], key[1], key[0] ^ key[1] ^ 0x1BD11BDAu};
  uint32_t x0 = ctr[0] + ks[0];
  uint32_t x1 = ctr[1] + ks[1];
  for (int r = 0; r < 20; ++r) {
    x0 += x1;
    x1 = rotl32(x1, rot[r % 8]);
    x1 ^= x0;
    if (r % 4 == 3) {  // key injection after every four rounds
      const uint32_t s = static_cast<uint32_t>(r / 4 + 1);
      x0 += ks[s % 3];
      x1 += ks[(s + 1) % 3] + s;
    }
  }
  return {x0, x1};
}

// The block for element `index` of an array drawn with `key`: the index is the counter.
constexpr Word2 block(Word2 key, uint64_t index) {
  return threefry2x32(key, {static_cast<uint32_t>(index >> 32), static_cast<uint32_t>(index)});
}

}  // namespace lathe::random_detail
