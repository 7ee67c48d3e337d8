// Element types, their sizes and names, and the promotion rules of binary ops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "lathe/core/half.h"

namespace lathe {

enum class DtypeKind : uint8_t { boolean, unsigned_int, signed_int, floating };

struct Dtype {
  enum class Val : uint8_t {
    bool_,
    uint8,
    uint32,
    int8,
    int32,
    int64,
    float16,
    bfloat16,
    float32,
    float64
  };
  Val val;
  constexpr bool operator==(const Dtype& o) const { return val == o.val; }
  constexpr bool operator!=(const Dtype& o) const { return val != o.val; }
  size_t size() const;
  DtypeKind kind() const;
  bool is_floating() const { return kind() == DtypeKind::floating; }
  bool is_integral() const {
    return kind() == DtypeKind::signed_int || kind() == DtypeKind::unsigned_int;
  }
  const char* name() const;
};

inline constexpr Dtype bool_{Dtype::Val::bool_};
inline constexpr Dtype uint8{Dtype::Val::uint8};
inline constexpr Dtype uint32{Dtype::Val::uint32};
inline constexpr Dtype int8{Dtype::Val::int8};
inline constexpr Dtype int32{Dtype::Val::int32};
inline constexpr Dtype int64{Dtype::Val::int64};
inline constexpr Dtype float16{Dtype::Val::float16};
inline constexpr Dtype bfloat16{Dtype::Val::bfloat16};
inline constexpr Dtype float32{Dtype::Val::float32};
inline constexpr Dtype float64{Dtype::Val::float64};

inline constexpr Dtype all_dtypes[] = {bool_, uint8,   uint32,   int8,    int32,
                                       int64, float16, bfloat16, float32, float64};

// The dtype both operands of a binary op are converted to.
Dtype promote_types(Dtype a, Dtype b);
// Parses "float32", "bf16", "bfloat16", "f16", ... ; throws lathe::Error.
Dtype dtype_from_string(const std::string& s);

template <typename T>
struct dtype_of;
template <>
struct dtype_of<bool> {
  static constexpr Dtype value = bool_;
};
template <>
struct dtype_of<uint8_t> {
  static constexpr Dtype value = uint8;
};
template <>
struct dtype_of<uint32_t> {
  static constexpr Dtype value = uint32;
};
template <>
struct dtype_of<int8_t> {
  static constexpr Dtype value = int8;
};
template <>
struct dtype_of<int32_t> {
  static constexpr Dtype value = int32;
};
template <>
struct dtype_of<int64_t> {
  static constexpr Dtype value = int64;
};
template <>
struct dtype_of<float16_t> {
  static constexpr Dtype value = float16;
};
template <>
struct dtype_of<bfloat16_t> {
  static constexpr Dtype value = bfloat16;
};
template <>
struct dtype_of<float> {
  static constexpr Dtype value = float32;
};
template <>
struct dtype_of<double> {
  static constexpr Dtype value = float64;
};

// Calls f(T{}) with the C++ type of dtype d; the one place dtypes become types.
template <typename F>
decltype(auto) dispatch_dtype(Dtype d, F&& f) {
  switch (d.val) {
    case Dtype::Val::bool_: return f(bool{});
    case Dtype::Val::uint8: return f(uint8_t{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::int8: return f(int8_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    case Dtype::Val::float16: return f(float16_t{});
    case Dtype::Val::bfloat16: return f(bfloat16_t{});
    case Dtype::Val::float32: return f(float{});
    case Dtype::Val::float64: return f(double{});
  }
  return f(float{});
}

// The type arithmetic on T is done in: float for the 16-bit floats, T otherwise.
template <typename T>
using compute_t =
    std::conditional_t<std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>, float, T>;

}  // namespace lathe
