// What the run-time compiled (NVRTC) kernels need from the toolkit's headers,
// written out because NVRTC ships no headers and the toolkit's may be absent
// where lathe runs: fixed-width integers, the few type traits that the shared
// device code uses, and the 16-bit float types with the conversions that
// cuda_fp16.h and cuda_bf16.h compile to on sm_80 and newer (the same PTX
// instructions, so values round exactly as in the nvcc-built kernels).
#pragma once

#ifndef __CUDACC_RTC__
#error "rtc_prelude.cuh is for run-time compilation only; nvcc builds use the toolkit's headers"
#endif
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "lathe's run-time compiled kernels need sm_80 or newer"
#endif

// LP64, as on the host that built lathe's nvcc kernels.
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;

namespace std {

template <bool B, class T, class F>
struct conditional {
  using type = T;
};
template <class T, class F>
struct conditional<false, T, F> {
  using type = F;
};
template <bool B, class T, class F>
using conditional_t = typename conditional<B, T, F>::type;

template <class T, class U>
inline constexpr bool is_same_v = false;
template <class T>
inline constexpr bool is_same_v<T, T> = true;

template <class T>
inline constexpr bool is_floating_point_v =
    is_same_v<T, float> || is_same_v<T, double> || is_same_v<T, long double>;

template <class T>
inline constexpr bool is_integral_v =
    is_same_v<T, bool> || is_same_v<T, char> || is_same_v<T, signed char> ||
    is_same_v<T, unsigned char> || is_same_v<T, short> || is_same_v<T, unsigned short> ||
    is_same_v<T, int> || is_same_v<T, unsigned int> || is_same_v<T, long> ||
    is_same_v<T, unsigned long> || is_same_v<T, long long> || is_same_v<T, unsigned long long>;

template <class T, bool Integral = is_integral_v<T>>
struct lathe_is_signed {
  static constexpr bool value = is_floating_point_v<T>;
};
template <class T>
struct lathe_is_signed<T, true> {
  static constexpr bool value = T(-1) < T(0);
};
template <class T>
inline constexpr bool is_signed_v = lathe_is_signed<T>::value;

}  // namespace std

// Storage of the 16-bit floats: the bits alone, as the toolkit's types hold them.
struct __half {
  unsigned short __x;
};
struct __nv_bfloat16 {
  unsigned short __x;
};

__device__ __forceinline__ float __half2float(const __half a) {
  float f;
  asm("{  cvt.f32.f16 %0, %1;}\n" : "=f"(f) : "h"(a.__x));
  return f;
}

__device__ __forceinline__ __half __float2half_rn(const float a) {
  __half h;
  asm("{  cvt.rn.f16.f32 %0, %1;}\n" : "=h"(h.__x) : "f"(a));
  return h;
}

__device__ __forceinline__ float __bfloat162float(const __nv_bfloat16 a) {
  float f;
#if __CUDA_ARCH__ >= 900
  asm("{ cvt.f32.bf16 %0, %1;}\n" : "=f"(f) : "h"(a.__x));
#else
  asm("{ mov.b32 %0, {0,%1};}\n" : "=f"(f) : "h"(a.__x));
#endif
  return f;
}

__device__ __forceinline__ __nv_bfloat16 __float2bfloat16_rn(const float a) {
  __nv_bfloat16 h;
  asm("{  cvt.rn.bf16.f32 %0, %1;}\n" : "=h"(h.__x) : "f"(a));
  return h;
}

__device__ __forceinline__ __half __ushort_as_half(const unsigned short bits) {
  __half h;
  h.__x = bits;
  return h;
}

__device__ __forceinline__ __nv_bfloat16 __ushort_as_bfloat16(const unsigned short bits) {
  __nv_bfloat16 h;
  h.__x = bits;
  return h;
}
