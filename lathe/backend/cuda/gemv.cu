// Dense GEMV of decode: a group of G threads (a warp up to the whole block)
// owns one row of W and walks it in 16-byte vectors, four loads in flight per
// thread, x read through the L1 (every group of the block reads the same x);
// float32 sums, reduced by warp shuffles and, for groups wider than a warp,
// through shared memory. Short rows get wide groups (the split of K inside a
// block) so that a few hundred rows still fill the GPU; no second launch.
#include "lathe/backend/cuda/gemv.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/backend/cuda/vector_load.cuh"

namespace lathe::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;

// Sum of the products of 16 bytes of T from w and x.
template <typename T>
__device__ __forceinline__ float dot16(uint4 w, uint4 x) {
  const uint32_t wv[4] = {w.x, w.y, w.z, w.w}, xv[4] = {x.x, x.y, x.z, x.w};
  float s = 0.0f;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    if constexpr (std::is_same_v<T, float>) {
      s = fmaf(__uint_as_float(wv[e]), __uint_as_float(xv[e]), s);
    } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      s = fmaf(__uint_as_float(wv[e] << 16), __uint_as_float(xv[e] << 16), s);
      s = fmaf(__uint_as_float(wv[e] & 0xffff0000u), __uint_as_float(xv[e] & 0xffff0000u), s);
    } else {
      const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&wv[e]));
      const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&xv[e]));
      s = fmaf(a.x, b.x, s);
      s = fmaf(a.y, b.y, s);
    }
  }
  return s;
}

// MR: rows of x the kernel is compiled for (1, or kGemvMaxRows with a.m the count).
// lg: log2 of the threads per row (5..8).
template <typename T, int MR>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvArgs a, int lg) {
  __shared__ float partial[kThreads / 32][MR];
  const int group = 1 << lg;
  const int t = threadIdx.x & (group - 1);
  const int64_t row = int64_t(blockIdx.x) * (kThreads >> lg) + (threadIdx.x >> lg);
  const int m = MR == 1 ? 1 : a.m;
  const int64_t chunks = a.k * int64_t(sizeof(T)) / 16;
  float acc[MR];
#pragma unroll
  for (int i = 0; i < MR; ++i) acc[i] = 0.0f;
  if (row < a.n) {
    const uint4* w = reinterpret_cast<const uint4*>(static_cast<const T*>(a.w) + row * a.ldw);
    int64_t c = t;
    for (; c + (kUnroll - 1) * group < chunks; c += kUnroll * group) {
      uint4 wv[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) wv[u] = load_stream(w + c + u * group);
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        if (i < m) {
          const uint4* x = static_cast<const uint4*>(a.x[i]);
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) acc[i] += dot16<T>(wv[u], __ldg(x + c + u * group));
        }
      }
    }
    for (; c < chunks; c += group) {
      const uint4 wv = load_stream(w + c);
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        if (i < m) acc[i] += dot16<T>(wv, __ldg(static_cast<const uint4*>(a.x[i]) + c));
      }
    }
  }
#pragma unroll
  for (int i = 0; i < MR; ++i) acc[i] = warp_sum(acc[i]);
  if (lg > 5) {
    const int warp = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) {
#pragma unroll
      for (int i = 0; i < MR; ++i) partial[warp][i] = acc[i];
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        float s = 0.0f;
        for (int v = 0; v < (group >> 5); ++v) s += partial[warp + v][i];
        acc[i] = s;
      }
    }
  }
  if (t != 0 || row >= a.n) return;
#pragma unroll
  for (int i = 0; i < MR; ++i) {
    if (i < m) {
      T* y = static_cast<T*>(a.y) + i * a.ldy + row;
      float v = a.alpha * acc[i];
      if (a.beta != 0.0f) v = fmaf(a.beta, load_c(*y), v);
      *y = store_c<T>(v);
    }
  }
}

// log2 of the threads per row: a warp, widened while the rows alone leave the
// GPU under-filled and a row still has vectors for the extra threads.
int threads_per_row_log2(int64_t n, int64_t chunks) {
  const int64_t target = int64_t(sm_count()) * 2048;
  int lg = 5;
  while (lg < 8 && (int64_t(1) << lg) < chunks && n * (int64_t(1) << lg) < target) ++lg;
  return lg;
}

template <typename T>
void launch_typed(const GemvArgs& a, cudaStream_t s) {
  const int lg = a.threads_per_row_log2 ? a.threads_per_row_log2
                                        : threads_per_row_log2(a.n, a.k * int64_t(sizeof(T)) / 16);
  const int64_t rows_per_block = kThreads >> lg;
  const auto blocks = static_cast<unsigned>((a.n + rows_per_block - 1) / rows_per_block);
  if (a.m == 1) {
    gemv_kernel<T, 1><<<blocks, kThreads, 0, s>>>(a, lg);
  } else {
    gemv_kernel<T, kGemvMaxRows><<<blocks, kThreads, 0, s>>>(a, lg);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool gemv_fits(const GemvArgs& a) {
  if (a.dtype != float32 && a.dtype != float16 && a.dtype != bfloat16) return false;
  if (a.m < 1 || a.m > kGemvMaxRows || a.n < 1 || a.k < 1) return false;
  if (a.threads_per_row_log2 != 0 && (a.threads_per_row_log2 < 5 || a.threads_per_row_log2 > 8)) {
    return false;
  }
  const int64_t es = int64_t(a.dtype.size());
  if ((a.k * es) % 16 != 0 || !aligned16(a.w)) return false;
  if (a.n > 1 && (a.ldw < a.k || (a.ldw * es) % 16 != 0)) return false;
  for (int i = 0; i < a.m; ++i) {
    if (!aligned16(a.x[i])) return false;
  }
  return true;
}

void launch_gemv(const GemvArgs& a, cudaStream_t s) {
  if (a.dtype == bfloat16) {
    launch_typed<__nv_bfloat16>(a, s);
  } else if (a.dtype == float16) {
    launch_typed<__half>(a, s);
  } else {
    launch_typed<float>(a, s);
  }
  check(cudaGetLastError(), "gemv");
}

}  // namespace lathe::cuda
