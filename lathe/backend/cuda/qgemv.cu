// Quantized GEMV of decode: x [m <= 8, k] against n rows of MLX affine 4/8-bit
// or mxfp4 codes. Each block stages x in shared memory once (as float, with
// the sum of x over every 16-byte vector of codes), then loops over row sets:
// a group of G threads (a warp up to the block) owns R rows and walks them in
// 16-byte vectors of codes, the next vectors requested before the current ones
// are used (across row sets too); each staged x vector serves the R rows. The
// grid is the resident blocks, so x is staged once per block. x is stored vector-major
// ([j][vector], float4 j of every vector side by side) so that the lanes of a warp read consecutive
// 16 bytes. One vector of codes lies in one quantization group: one scale
// (and bias) per vector.
//   affine: a code is used as the float whose bits are the code's bits where
//           they lie in the word (one mask; three codes of 4-bit words and two
//           of 8-bit words need one shift first): a subnormal q * 2^(p - 149)
//           for a code at bit p. x is staged times 2^(149 - p - 48), so each
//           product is x * q * 2^-48 exactly, and the vector contributes
//           s * 2^48 * sum(x' v) + b * sum(x).
//   mxfp4:  two E2M1 codes become a half2 holding 2^-14 * value (the E2M1 bits
//           are a half's sign, low exponent and top mantissa bits), scaled by
//           2^14 * 2^(e - 127) per vector.
#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "lathe/backend/cuda/gemv.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/backend/cuda/vector_load.cuh"

namespace lathe::cuda {
namespace {

constexpr int kThreads = 256;
// x (and its vector sums) stay in shared memory up to this size; larger x
// (many rows of a long K) is staged in global memory by a separate kernel.
constexpr size_t kStageBytes = 64 * 1024;
// Products of affine codes carry a factor 2^-kScaleExp (see above).
constexpr int kScaleExp = 48;

struct QKernelArgs {
  const uint8_t* wq;
  const void* scales;
  const void* biases;
  Dtype::Val sd;
  int64_t n, k;
  int64_t vecs;      // 16-byte vectors of codes per row
  int64_t groups;    // per row
  int vec_group_lg;  // log2 of vectors per group
  int m;
  const void* x;  // [m, k] of dtype xd (16-byte aligned), staged by each block when xs is null
  Dtype::Val xd;
  const float4* xs;   // staged x in global memory [m][codes / 4][vecs], or null
  const float* sums;  // [m][vecs]: sum of x over each vector's codes
  void* y;
  Dtype::Val yd;
  int lg;  // log2 of the threads per row group
};

__device__ __forceinline__ float load_param(const void* p, int64_t i, Dtype::Val d) {
  switch (d) {
    case Dtype::Val::bfloat16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case Dtype::Val::float16: return __half2float(static_cast<const __half*>(p)[i]);
    case Dtype::Val::float64: return static_cast<float>(static_cast<const double*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void store_out(void* y, int64_t i, Dtype::Val d, float v) {
  switch (d) {
    case Dtype::Val::bfloat16: static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16_rn(v); break;
    case Dtype::Val::float16: static_cast<__half*>(y)[i] = __float2half_rn(v); break;
    case Dtype::Val::float64: static_cast<double*>(y)[i] = v; break;
    default: static_cast<float*>(y)[i] = v; break;
  }
}

// E8M0: 2^(e - 127), 255 is NaN.
__device__ __forceinline__ float e8m0(uint32_t e) {
  if (e == 255) return __uint_as_float(0x7fc00000u);
  return __uint_as_float(e == 0 ? 0x00400000u : e << 23);
}

// Bit position of code e of a word once decoded (codes past the mantissa are shifted down).
template <int BITS>
__host__ __device__ constexpr int code_bit(int e) {
  return BITS == 4 ? (e < 5 ? 4 * e : 4 * e - 12) : (e < 2 ? 8 * e : 8 * e - 16);
}

// The codes of one word as subnormal floats q * 2^(code_bit - 149).
template <int BITS>
__device__ __forceinline__ void decode_affine(uint32_t w, float (&v)[32 / BITS]) {
  const uint32_t hi = w >> (BITS == 4 ? 12 : 16);
#pragma unroll
  for (int e = 0; e < 32 / BITS; ++e) {
    const uint32_t mask = ((1u << BITS) - 1) << code_bit<BITS>(e);
    v[e] = __uint_as_float((e < (BITS == 4 ? 5 : 2) ? w : hi) & mask);
  }
}

// What x is multiplied by when staged for the code at bit position p: 2^(149 - p - kScaleExp).
__device__ __forceinline__ float stage_scale(int p) {
  return __uint_as_float(uint32_t(127 + 149 - kScaleExp - p) << 23);
}

// The eight E2M1 codes of one word as 2^-14 * value: codes e and e + 4 share a half2.
__device__ __forceinline__ void decode_mxfp4(uint32_t w, float (&v)[8]) {
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const uint32_t sign = (w << (12 - 4 * e)) & 0x80008000u;
    const int sm = 9 - 4 * e;
    const uint32_t mag = (sm >= 0 ? w << sm : w >> -sm) & 0x0e000e00u;
    const uint32_t h = sign | mag;
    const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&h));
    v[e] = f.x;
    v[e + 4] = f.y;
  }
}

// Adds vector c of R rows (16 bytes of codes q[r], parameters from p0[r]) times x to acc.
template <int BITS, bool MX, int MR, int R>
__device__ __forceinline__ void add_vectors(const QKernelArgs& a, const int64_t (&p0)[R], int64_t c,
                                            const uint4 (&q)[R], const float4* xs,
                                            const float* sums, int m, float (&acc)[R][MR]) {
  constexpr int kPer = 32 / BITS;  // codes per word; also float4s of x per vector
  float dot[R][MR];
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int i = 0; i < MR; ++i) dot[r][i] = 0.0f;
  }
#pragma unroll
  for (int wd = 0; wd < 4; ++wd) {
    float v[R][kPer];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const uint32_t word = wd == 0 ? q[r].x : wd == 1 ? q[r].y : wd == 2 ? q[r].z : q[r].w;
      if constexpr (MX) {
        decode_mxfp4(word, v[r]);
      } else {
        decode_affine<BITS>(word, v[r]);
      }
    }
#pragma unroll
    for (int i = 0; i < MR; ++i) {
      if (i < m) {
#pragma unroll
        for (int e = 0; e < kPer / 4; ++e) {
          const float4 xv = xs[(int64_t(i) * kPer + wd * (kPer / 4) + e) * a.vecs + c];
#pragma unroll
          for (int r = 0; r < R; ++r) {
            dot[r][i] = fmaf(v[r][4 * e], xv.x, dot[r][i]);
            dot[r][i] = fmaf(v[r][4 * e + 1], xv.y, dot[r][i]);
            dot[r][i] = fmaf(v[r][4 * e + 2], xv.z, dot[r][i]);
            dot[r][i] = fmaf(v[r][4 * e + 3], xv.w, dot[r][i]);
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t pi = p0[r] + (c >> a.vec_group_lg);
    if constexpr (MX) {
      const float s = e8m0(static_cast<const uint8_t*>(a.scales)[pi]);
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        if (i < m) acc[r][i] = fmaf(dot[r][i] * 16384.0f, s, acc[r][i]);
      }
    } else {
      const float s = load_param(a.scales, pi, a.sd) * float(int64_t(1) << kScaleExp);
      const float b = load_param(a.biases, pi, a.sd);
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        if (i < m) acc[r][i] = fmaf(s, dot[r][i], fmaf(b, sums[i * a.vecs + c], acc[r][i]));
      }
    }
  }
}

// Four consecutive elements of x as float.
template <typename T>
__device__ __forceinline__ float4 load4(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return __ldg(reinterpret_cast<const float4*>(p));
  } else if constexpr (std::is_same_v<T, double>) {
    const double2 lo = __ldg(reinterpret_cast<const double2*>(p));
    const double2 hi = __ldg(reinterpret_cast<const double2*>(p) + 1);
    return make_float4(float(lo.x), float(lo.y), float(hi.x), float(hi.y));
  } else {
    const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      return make_float4(__uint_as_float(u.x << 16), __uint_as_float(u.x & 0xffff0000u),
                         __uint_as_float(u.y << 16), __uint_as_float(u.y & 0xffff0000u));
    } else {
      const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
      const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
      return make_float4(lo.x, lo.y, hi.x, hi.y);
    }
  }
}

// Stages vectors [first, m * vecs) step `step` of x: the sum of each vector's x,
// and x (times the code position's factor for affine codes) vector-major.
template <int BITS, bool MX, typename T>
__device__ void stage_typed(const T* x, int64_t k, int64_t vecs, int64_t total, int64_t first,
                            int64_t step, float4* xs, float* sums) {
  constexpr int kPer = 32 / BITS;
  for (int64_t e = first; e < total; e += step) {
    const int64_t i = e / vecs, c = e - i * vecs;
    const T* src = x + i * k + c * 4 * kPer;
    float4 f[kPer];
#pragma unroll
    for (int j = 0; j < kPer; ++j) f[j] = load4(src + 4 * j);
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      s += (f[j].x + f[j].y) + (f[j].z + f[j].w);
      if constexpr (!MX) {
        // float4 j holds codes 4j..4j+3 of the vector: of word j / (kPer / 4).
        const int e0 = (4 * j) % kPer;
        f[j].x *= stage_scale(code_bit<BITS>(e0));
        f[j].y *= stage_scale(code_bit<BITS>(e0 + 1));
        f[j].z *= stage_scale(code_bit<BITS>(e0 + 2));
        f[j].w *= stage_scale(code_bit<BITS>(e0 + 3));
      }
      xs[(i * kPer + j) * vecs + c] = f[j];
    }
    sums[e] = s;
  }
}

template <int BITS, bool MX>
__device__ void stage_x(const QKernelArgs& a, int64_t first, int64_t step, float4* xs,
                        float* sums) {
  const int64_t total = a.m * a.vecs;
  switch (a.xd) {
    case Dtype::Val::bfloat16:
      stage_typed<BITS, MX>(static_cast<const __nv_bfloat16*>(a.x), a.k, a.vecs, total, first, step,
                            xs, sums);
      break;
    case Dtype::Val::float16:
      stage_typed<BITS, MX>(static_cast<const __half*>(a.x), a.k, a.vecs, total, first, step, xs,
                            sums);
      break;
    case Dtype::Val::float64:
      stage_typed<BITS, MX>(static_cast<const double*>(a.x), a.k, a.vecs, total, first, step, xs,
                            sums);
      break;
    default:
      stage_typed<BITS, MX>(static_cast<const float*>(a.x), a.k, a.vecs, total, first, step, xs,
                            sums);
      break;
  }
}

// Loads vectors c + u * group (u < U) of the R rows from row0 on; zeros past the ends.
template <int R, int U>
__device__ __forceinline__ void load_set(const QKernelArgs& a, int64_t row0, int64_t c, int group,
                                         uint4 (&q)[U][R]) {
  const uint4* wq = reinterpret_cast<const uint4*>(a.wq);
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = row0 + r < a.n ? row0 + r : a.n - 1;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t cu = c + u * group;
      q[u][r] =
          row0 < a.n && cu < a.vecs ? load_stream(wq + row * a.vecs + cu) : make_uint4(0, 0, 0, 0);
    }
  }
}

// MR: rows of x compiled for (1, or kGemvMaxRows with a.m the count); R rows of
// W per thread group, U vectors of each per step. Software-pipelined: the next
// step's vectors (of the next row set after the last step of one) are requested
// before the current ones are used, the very first ones before x is staged.
template <int BITS, bool MX, int MR, int R, int U>
__global__ void __launch_bounds__(kThreads, 2) qgemv_kernel(QKernelArgs a) {
  extern __shared__ float4 staged[];
  __shared__ float partial[kThreads / 32][R * MR];
  const int m = MR == 1 ? 1 : a.m;
  const int group = 1 << a.lg;
  const int t = threadIdx.x & (group - 1);
  const int64_t rows_per_block = int64_t(kThreads >> a.lg) * R;
  const int64_t stride = int64_t(gridDim.x) * rows_per_block;
  const int64_t own = (threadIdx.x >> a.lg) * R;  // first row of this group in a row set
  uint4 cur[U][R];
  load_set<R, U>(a, blockIdx.x * rows_per_block + own, t, group, cur);
  const float4* xs = a.xs;
  const float* sums = a.sums;
  if (xs == nullptr) {
    float4* sx = staged;
    float* ss = reinterpret_cast<float*>(staged + int64_t(m) * (32 / BITS) * a.vecs);
    stage_x<BITS, MX>(a, threadIdx.x, kThreads, sx, ss);
    __syncthreads();
    xs = sx;
    sums = ss;
  }
  for (int64_t base = blockIdx.x * rows_per_block; base < a.n; base += stride) {
    const int64_t row0 = base + own;
    int64_t p0[R];
#pragma unroll
    for (int r = 0; r < R; ++r) p0[r] = (row0 + r < a.n ? row0 + r : a.n - 1) * a.groups;
    float acc[R][MR];
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
      for (int i = 0; i < MR; ++i) acc[r][i] = 0.0f;
    }
    for (int64_t c = t; c < a.vecs; c += U * group) {
      uint4 next[U][R];
      const bool last = c + U * group >= a.vecs;
      load_set<R, U>(a, last ? row0 + stride : row0, last ? t : c + U * group, group, next);
      if (row0 < a.n) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
          if (c + u * group < a.vecs) {
            add_vectors<BITS, MX, MR, R>(a, p0, c + u * group, cur[u], xs, sums, m, acc);
          }
        }
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
#pragma unroll
        for (int r = 0; r < R; ++r) cur[u][r] = next[u][r];
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
      for (int i = 0; i < MR; ++i) acc[r][i] = warp_sum(acc[r][i]);
    }
    if (a.lg > 5) {
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
      __syncthreads();  // partial is written again by the next row set
    }
    if (t == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (row0 + r < a.n) {
#pragma unroll
          for (int i = 0; i < MR; ++i) {
            if (i < m) store_out(a.y, i * a.n + row0 + r, a.yd, acc[r][i]);
          }
        }
      }
    }
  }
}

// x staged in global memory, for x too large for shared memory.
template <int BITS, bool MX>
__global__ void stage_kernel(QKernelArgs a, float4* xs, float* sums) {
  stage_x<BITS, MX>(a, blockIdx.x * int64_t(blockDim.x) + threadIdx.x,
                    int64_t(gridDim.x) * blockDim.x, xs, sums);
}

// Resident blocks per SM of a kernel with this much dynamic shared memory (cached).
int blocks_per_sm(const void* kernel, size_t smem) {
  static std::mutex mu;
  static auto* cache = new std::map<std::pair<const void*, size_t>, int>();
  std::lock_guard lk(mu);
  auto it = cache->find({kernel, smem});
  if (it != cache->end()) return it->second;
  int n = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, smem),
        "quantized_matmul");
  n = std::max(n, 1);
  cache->emplace(std::make_pair(kernel, smem), n);
  return n;
}

template <int BITS, bool MX, int MR, int R, int U>
void launch_kernel(const QKernelArgs& args, size_t smem, cudaStream_t s) {
  auto kernel = qgemv_kernel<BITS, MX, MR, R, U>;
  static std::once_flag once;
  std::call_once(once, [&] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kStageBytes)),
          "quantized_matmul");
  });
  const int64_t resident = int64_t(sm_count()) * blocks_per_sm((const void*)kernel, smem);
  QKernelArgs a = args;
  const int64_t row_groups = (a.n + R - 1) / R;
  // A warp per row group, widened while the groups leave the GPU under-filled.
  if (a.lg == 0) {
    const int64_t target = int64_t(sm_count()) * 768;
    a.lg = 5;
    while (a.lg < 8 && (int64_t(1) << a.lg) < a.vecs &&
           row_groups * (int64_t(1) << a.lg) < target) {
      ++a.lg;
    }
  }
  const int64_t groups_per_block = kThreads >> a.lg;
  const int64_t blocks = std::min((row_groups + groups_per_block - 1) / groups_per_block, resident);
  kernel<<<static_cast<unsigned>(blocks), kThreads, smem, s>>>(a);
}

// R and U measured on the H200 (bench/RESULTS.md, "GPU decode GEMV").
template <int BITS, bool MX>
void launch_rows(const QKernelArgs& a, size_t smem, cudaStream_t s) {
  if (a.m > 1) {
    launch_kernel<BITS, MX, kGemvMaxRows, 2, 1>(a, smem, s);
  } else {
    launch_kernel<BITS, MX, 1, 4, 1>(a, smem, s);
  }
}

int log2_of(int64_t v) {
  int l = 0;
  while ((int64_t(1) << l) < v) ++l;
  return l;
}

}  // namespace

bool qgemv_fits(const QGemvArgs& a) {
  if (a.mxfp4) {
    if (a.bits != 4 || a.group_size != 32 || a.scale_dtype != uint8 || a.biases) return false;
  } else {
    if (a.bits != 4 && a.bits != 8) return false;
    if (a.group_size != 32 && a.group_size != 64 && a.group_size != 128) return false;
    if (!a.scale_dtype.is_floating() || !a.biases) return false;
  }
  if (a.m < 1 || a.m > kGemvMaxRows || a.n < 1 || a.k < 1 || a.k % a.group_size != 0) return false;
  if (!a.x_dtype.is_floating() || !a.y_dtype.is_floating()) return false;
  if (a.threads_per_row_log2 != 0 && (a.threads_per_row_log2 < 5 || a.threads_per_row_log2 > 8)) {
    return false;
  }
  return reinterpret_cast<uintptr_t>(a.wq) % 16 == 0 && reinterpret_cast<uintptr_t>(a.x) % 16 == 0;
}

void launch_qgemv(const QGemvArgs& g, cudaStream_t s) {
  const int codes = 128 / g.bits;  // per 16-byte vector
  QKernelArgs a{};
  a.wq = static_cast<const uint8_t*>(g.wq);
  a.scales = g.scales;
  a.biases = g.biases;
  a.sd = g.scale_dtype.val;
  a.n = g.n;
  a.k = g.k;
  a.vecs = g.k / codes;
  a.groups = g.k / g.group_size;
  a.vec_group_lg = log2_of(g.group_size / codes);
  a.m = g.m;
  a.x = g.x;
  a.xd = g.x_dtype.val;
  a.y = g.y;
  a.yd = g.y_dtype.val;
  a.lg = g.threads_per_row_log2;
  const size_t xbytes = size_t(g.m) * size_t(g.k + a.vecs) * sizeof(float);
  size_t smem = xbytes;
  std::shared_ptr<Buffer> staged;
  if (xbytes > kStageBytes) {
    staged = scratch(xbytes);
    float4* xs = static_cast<float4*>(staged->ptr());
    float* sums = reinterpret_cast<float*>(xs + g.m * g.k / 4);
    a.xs = xs;
    a.sums = sums;
    const unsigned blocks = grid_for(size_t(g.m) * a.vecs);
    if (g.mxfp4) {
      stage_kernel<4, true><<<blocks, 256, 0, s>>>(a, xs, sums);
    } else if (g.bits == 4) {
      stage_kernel<4, false><<<blocks, 256, 0, s>>>(a, xs, sums);
    } else {
      stage_kernel<8, false><<<blocks, 256, 0, s>>>(a, xs, sums);
    }
    smem = 0;
  }
  if (g.mxfp4) {
    launch_rows<4, true>(a, smem, s);
  } else if (g.bits == 4) {
    launch_rows<4, false>(a, smem, s);
  } else {
    launch_rows<8, false>(a, smem, s);
  }
  check(cudaGetLastError(), "quantized_matmul");
}

}  // namespace lathe::cuda
