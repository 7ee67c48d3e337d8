// float16 and bfloat16 storage types with exact round-to-nearest-even
// conversion to and from float; arithmetic happens in float.
#pragma once

#include <cstdint>
#include <cstring>

namespace lathe {

namespace detail {
inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace detail

struct bfloat16_t {
  uint16_t bits = 0;
  bfloat16_t() = default;
  bfloat16_t(float f) {  // NOLINT(google-explicit-constructor): numeric type
    uint32_t u = detail::float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      bits = static_cast<uint16_t>(u >> 16);
    }
  }
  operator float() const { return detail::bits_float(uint32_t(bits) << 16); }  // NOLINT
  static bfloat16_t from_bits(uint16_t b) {
    bfloat16_t r;
    r.bits = b;
    return r;
  }
};

struct float16_t {
  uint16_t bits = 0;
  float16_t() = default;
  float16_t(float f) { bits = from_float(f); }       // NOLINT
  operator float() const { return to_float(bits); }  // NOLINT
  static float16_t from_bits(uint16_t b) {
    float16_t r;
    r.bits = b;
    return r;
  }

  static uint16_t from_float(float f) {
    uint32_t u = detail::float_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN
    if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
    if (a < 0x38800000u) {  // subnormal or zero in half
      // Scale so that the half subnormal ulp (2^-24) becomes 1, rounding to nearest even.
      float scaled = detail::bits_float(a) * 16777216.0f;  // exact: power of two
      // nearbyint with ties-to-even via magic number
      float r = (scaled + 12582912.0f) - 12582912.0f;
      return static_cast<uint16_t>(sign | static_cast<uint32_t>(r));
    }
    uint32_t mant_odd = (a >> 13) & 1u;
    a += 0xfffu + mant_odd;  // round to nearest even at bit 13
    a -= 0x38000000u;        // rebias exponent 127 -> 15
    return static_cast<uint16_t>(sign | (a >> 13));
  }
  static float to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
      float m = static_cast<float>(mant) * (1.0f / 16777216.0f);
      return sign ? -m : m;
    }
    if (exp == 31) return detail::bits_float(sign | 0x7f800000u | (mant << 13));
    return detail::bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  }
};

}  // namespace lathe
