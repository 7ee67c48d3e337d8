// Device types of lathe's dtypes and the conversions through the compute type,
// shared by the nvcc-built kernels and the run-time compiled fused kernels so
// that both round exactly alike. Self-contained under NVRTC (see rtc_prelude.cuh).
#pragma once

#ifdef __CUDACC_RTC__
#include "lathe/backend/cuda/rtc_prelude.cuh"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>
#endif

namespace lathe::cuda {

// float for the 16-bit floats, the type itself otherwise (as lathe::compute_t).
template <typename T>
using compute_of =
    std::conditional_t<std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>, float, T>;

template <typename T>
__device__ __forceinline__ compute_of<T> load_c(T v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __half2float(v);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat162float(v);
  } else {
    return v;
  }
}

// Converts a compute value to storage type T as lathe's CPU code does.
template <typename T, typename C>
__device__ __forceinline__ T store_c(C v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != C(0);
  } else {
    return static_cast<T>(v);
  }
}

// A value of any dtype, in the compute type of its source (what astype reads).
struct AnyValue {
  double f;
  int64_t i;
  bool floating;
};

template <typename T>
__device__ __forceinline__ AnyValue any_of(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return {0, v ? 1 : 0, false};
  } else if constexpr (std::is_same_v<T, __half>) {
    return {__half2float(v), 0, true};
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return {__bfloat162float(v), 0, true};
  } else if constexpr (std::is_floating_point_v<T>) {
    return {v, 0, true};
  } else {
    return {0, static_cast<int64_t>(v), false};
  }
}

// astype's conversion of a value to storage type T.
template <typename T>
__device__ __forceinline__ T convert_any(const AnyValue& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v.floating ? v.f != 0.0 : v.i != 0;
  } else if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> ||
                       std::is_same_v<T, float>) {
    // Through float, as the CPU does (16-bit floats round from float).
    float f = v.floating ? static_cast<float>(v.f) : static_cast<float>(v.i);
    return store_c<T>(f);
  } else {
    return v.floating ? static_cast<T>(v.f) : static_cast<T>(v.i);
  }
}

// The value of type T whose bytes (zero-extended) are `bits`: the scalar
// constants that the fused kernels carry in their source.
template <typename T>
__device__ __forceinline__ T from_bits(unsigned long long bits) {
  if constexpr (std::is_same_v<T, bool>) {
    return bits != 0;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __ushort_as_half(static_cast<unsigned short>(bits));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __ushort_as_bfloat16(static_cast<unsigned short>(bits));
  } else if constexpr (std::is_same_v<T, float>) {
    return __uint_as_float(static_cast<unsigned int>(bits));
  } else if constexpr (std::is_same_v<T, double>) {
    return __longlong_as_double(static_cast<long long>(bits));
  } else {
    return static_cast<T>(bits);
  }
}

}  // namespace lathe::cuda
