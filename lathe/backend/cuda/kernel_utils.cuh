// Shared by the CUDA kernels: device types of lathe's dtypes, conversion
// through the compute type, and strided operand layouts (collapsed on the host).
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>

#include "lathe/backend/cpu/strided.h"
#include "lathe/backend/cuda/copy.h"
#include "lathe/backend/cuda/device_types.cuh"
#include "lathe/backend/cuda/runtime.h"

namespace lathe::cuda {

// Calls f(T{}) with the device type of dtype d.
template <typename F>
decltype(auto) dispatch_device(Dtype d, F&& f) {
  switch (d.val) {
    case Dtype::Val::bool_: return f(bool{});
    case Dtype::Val::uint8: return f(uint8_t{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::int8: return f(int8_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    case Dtype::Val::float16: return f(__half{});
    case Dtype::Val::bfloat16: return f(__nv_bfloat16{});
    case Dtype::Val::float32: return f(float{});
    case Dtype::Val::float64: return f(double{});
  }
  return f(float{});
}

// Calls f(T{}) with an unsigned type of the element size (for copies).
template <typename F>
decltype(auto) dispatch_bits(size_t size, F&& f) {
  switch (size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    default: return f(uint64_t{});
  }
}

__device__ __forceinline__ AnyValue load_any(const void* p, int64_t k, Dtype::Val d) {
  switch (d) {
    case Dtype::Val::bool_: return any_of(static_cast<const bool*>(p)[k]);
    case Dtype::Val::uint8: return any_of(static_cast<const uint8_t*>(p)[k]);
    case Dtype::Val::uint32: return any_of(static_cast<const uint32_t*>(p)[k]);
    case Dtype::Val::int8: return any_of(static_cast<const int8_t*>(p)[k]);
    case Dtype::Val::int32: return any_of(static_cast<const int32_t*>(p)[k]);
    case Dtype::Val::int64: return any_of(static_cast<const int64_t*>(p)[k]);
    case Dtype::Val::float16: return any_of(static_cast<const __half*>(p)[k]);
    case Dtype::Val::bfloat16: return any_of(static_cast<const __nv_bfloat16*>(p)[k]);
    case Dtype::Val::float32: return any_of(static_cast<const float*>(p)[k]);
    case Dtype::Val::float64: return any_of(static_cast<const double*>(p)[k]);
  }
  return {0, 0, false};
}

// The value as double (parameters of the fused ops: weights, offsets, masks).
__device__ __forceinline__ double load_double(const void* p, int64_t k, Dtype::Val d) {
  AnyValue v = load_any(p, k, d);
  return v.floating ? v.f : static_cast<double>(v.i);
}

template <typename A>
__device__ __forceinline__ bool is_nan_dev(A x) {
  if constexpr (std::is_floating_point_v<A>) {
    return isnan(x);
  } else {
    return false;
  }
}

// Keeps a NaN once seen (numpy propagates NaN).
template <typename A>
__device__ __forceinline__ A nan_max(A acc, A x) {
  return (x > acc || is_nan_dev(x)) ? x : acc;
}
template <typename A>
__device__ __forceinline__ A nan_min(A acc, A x) {
  return (x < acc || is_nan_dev(x)) ? x : acc;
}

// Tree reduction over a power-of-two block through shared memory; every
// thread gets the result.
template <typename A, typename F>
__device__ A block_reduce(A v, A* sh, F merge) {
  const unsigned t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = merge(sh[t], sh[t + s]);
    __syncthreads();
  }
  A r = sh[0];
  __syncthreads();
  return r;
}

inline constexpr int kMaxDims = 8;

// N operands walked over one shape: element offsets of linear index i.
template <int N>
struct Layout {
  int ndim = 1;
  int64_t shape[kMaxDims] = {1};
  int64_t strides[N][kMaxDims] = {};

  __device__ __forceinline__ void offsets(int64_t i, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t c = i % shape[d];
      i /= shape[d];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += c * strides[k][d];
    }
  }
};

// Collapses dims that are jointly contiguous; throws naming op past kMaxDims.
template <int N>
Layout<N> make_layout(const char* op, const Shape& shape, const std::array<const Strides*, N>& st) {
  auto c = cpu::collapse<N>(shape, st);
  if (c.shape.size() > kMaxDims) {
    throw Error(std::string("[") + op + "] more than " + std::to_string(kMaxDims) +
                " non-mergeable dimensions are not supported on cuda yet");
  }
  Layout<N> l;
  l.ndim = static_cast<int>(c.shape.size());
  for (int d = 0; d < l.ndim; ++d) {
    l.shape[d] = c.shape[d];
    for (int k = 0; k < N; ++k) l.strides[k][d] = c.strides[k][d];
  }
  return l;
}

}  // namespace lathe::cuda
