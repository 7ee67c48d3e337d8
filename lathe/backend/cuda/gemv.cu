// Dense GEMV of decode: a group of G threads (a warp up to the whole block)
// owns R consecutive rows of W and walks them in 16-byte vectors, R x U loads
// in flight per thread (the last step loads only what exists, so a row costs
// ceil(vectors / (U x G)) memory round trips); each 16 bytes of x, read
// through the L1 (every group of the block reads the same x), serve the R
// rows. float32 sums, reduced by warp shuffles and, for groups wider than a
// warp, through shared memory. Short rows get wide groups (the split of K
// inside a block) so that a few hundred rows still fill the GPU; no second
// launch.
#include "lathe/backend/cuda/gemv.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/backend/cuda/vector_load.cuh"

namespace lathe::cuda {
namespace {

constexpr int kThreads = 256;

// Sum of the products of 16 bytes of T from w and x.
template <typename T>
__device__ __forceinline__ float dot16(uint4 w, uint4 x, float s) {
  const uint32_t wv[4] = {w.x, w.y, w.z, w.w}, xv[4] = {x.x, x.y, x.z, x.w};
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

// Loads vectors c + u * group (u < U) of the R rows; zeros past the end.
template <int R, int U>
__device__ __forceinline__ void load_vectors(const uint4* const (&w)[R], int64_t c, int group,
                                             int64_t chunks, uint4 (&q)[U][R]) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      q[u][r] = c + u * group < chunks ? load_stream(w[r] + c + u * group) : make_uint4(0, 0, 0, 0);
    }
  }
}

// MR: rows of x compiled for (1, or kGemvMaxRows with a.m the count); R rows of
// W per thread group, U vectors of each in flight. lg: log2 of the group size.
template <typename T, int MR, int R, int U>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvArgs a, int lg) {
  __shared__ float partial[kThreads / 32][R * MR];
  const int group = 1 << lg;
  const int t = threadIdx.x & (group - 1);
  const int64_t row0 = (int64_t(blockIdx.x) * (kThreads >> lg) + (threadIdx.x >> lg)) * R;
  const int m = MR == 1 ? 1 : a.m;
  const int64_t chunks = a.k * int64_t(sizeof(T)) / 16;
  // Rows past the end repeat the last one (read, never stored).
  const uint4* w[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = row0 + r < a.n ? row0 + r : a.n - 1;
    w[r] = reinterpret_cast<const uint4*>(static_cast<const T*>(a.w) + row * a.ldw);
  }
  float acc[R][MR];
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int i = 0; i < MR; ++i) acc[r][i] = 0.0f;
  }
  if (row0 < a.n) {
    for (int64_t c = t; c < chunks; c += U * group) {
      uint4 cur[U][R];
      load_vectors<R, U>(w, c, group, chunks, cur);
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        if (i < m) {
          const uint4* x = static_cast<const uint4*>(a.x[i]);
#pragma unroll
          for (int u = 0; u < U; ++u) {
            if (c + u * group < chunks) {
              const uint4 xv = __ldg(x + c + u * group);
#pragma unroll
              for (int r = 0; r < R; ++r) acc[r][i] = dot16<T>(cur[u][r], xv, acc[r][i]);
            }
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int i = 0; i < MR; ++i) acc[r][i] = warp_sum(acc[r][i]);
  }
  if (lg > 5) {
    const int warp = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int i = 0; i < MR; ++i) partial[warp][r * MR + i] = acc[r][i];
      }
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int i = 0; i < MR; ++i) {
          float s = 0.0f;
          for (int v = 0; v < (group >> 5); ++v) s += partial[warp + v][r * MR + i];
          acc[r][i] = s;
        }
      }
    }
  }
  if (t != 0) return;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (row0 + r >= a.n) break;
#pragma unroll
    for (int i = 0; i < MR; ++i) {
      if (i < m) {
        T* y = static_cast<T*>(a.y) + i * a.ldy + row0 + r;
        float v = a.alpha * acc[r][i];
        if (a.bias) {
          v = fmaf(a.beta, load_c(static_cast<const T*>(a.bias)[row0 + r]), v);
        } else if (a.beta != 0.0f) {
          v = fmaf(a.beta, load_c(*y), v);
        }
        *y = store_c<T>(v);
      }
    }
  }
}

// log2 of the threads per row group: a warp, widened while the row groups alone
// leave the GPU under-filled and a row still has vectors for the extra threads.
int threads_per_row_log2(int64_t groups, int64_t chunks) {
  const int64_t target = int64_t(sm_count()) * 768;
  int lg = 5;
  while (lg < 8 && (int64_t(1) << lg) < chunks && groups * (int64_t(1) << lg) < target) ++lg;
  return lg;
}

template <typename T, int MR, int R, int U>
void launch_shape(const GemvArgs& a, cudaStream_t s) {
  const int64_t groups = (a.n + R - 1) / R;
  const int lg = a.threads_per_row_log2
                     ? a.threads_per_row_log2
                     : threads_per_row_log2(groups, a.k * int64_t(sizeof(T)) / 16);
  const int64_t groups_per_block = kThreads >> lg;
  const auto blocks = static_cast<unsigned>((groups + groups_per_block - 1) / groups_per_block);
  gemv_kernel<T, MR, R, U><<<blocks, kThreads, 0, s>>>(a, lg);
}

// R and U measured on the H200 (bench/RESULTS.md, "GPU decode GEMV").
template <typename T>
void launch_typed(const GemvArgs& a, cudaStream_t s) {
  if (a.m > 1) {
    launch_shape<T, kGemvMaxRows, 2, 2>(a, s);
  } else {
    launch_shape<T, 1, 2, 4>(a, s);
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
