// Quantized GEMV of decode: x [m <= 8, k] against n rows of MLX affine 4/8-bit
// or mxfp4 codes. Each block stages x as float in shared memory (with the sum
// of x over every 16-byte vector of codes) once and then loops over row sets;
// a group of G threads owns a row and reads its codes in 16-byte vectors, four
// in flight. One vector of codes lies in one quantization group, so a product
// needs one scale (and bias) per vector:
//   affine: a code c sits at the top of a float mantissa, v = 1 + c / 2^bits
//           (one shift and one mask), and sum x * (s * c + b) over the vector
//           is 2^bits * s * (sum x * v - sum x) + b * sum x;
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
constexpr int kUnroll = 4;
// x (and its vector sums) stay in shared memory up to this size; larger x
// (many rows of a long K) is staged in global memory by a separate kernel.
constexpr size_t kStageBytes = 64 * 1024;

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
  const void* x;  // [m, k] of dtype xd, staged by each block when xf is null
  Dtype::Val xd;
  const float* xf;    // x as float [m, k] in global memory, or null
  const float* sums;  // [m, vecs]: sum of x over each vector's codes
  void* y;
  Dtype::Val yd;
  int lg;  // log2 of the threads per row
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

// The BITS-bit codes of one word (code e at bits [BITS * e, BITS * e + BITS)) as 1 + c / 2^BITS.
template <int BITS>
__device__ __forceinline__ void decode_affine(uint32_t w, float (&v)[32 / BITS]) {
  constexpr uint32_t mask = ((1u << BITS) - 1) << (23 - BITS);
#pragma unroll
  for (int e = 0; e < 32 / BITS; ++e) {
    const int sh = (23 - BITS) - BITS * e;
    const uint32_t u = sh >= 0 ? w << sh : w >> -sh;
    v[e] = __uint_as_float((u & mask) | 0x3f800000u);
  }
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

// Adds vector c of a row (16 bytes of codes q, parameters at pi) times x to acc.
template <int BITS, bool MX, int MR>
__device__ __forceinline__ void add_vector(const QKernelArgs& a, int64_t pi, int64_t c, uint4 q,
                                           const float* xf, const float* sums, int m,
                                           float (&acc)[MR]) {
  constexpr int kPer = 32 / BITS;   // codes per word
  constexpr int kCodes = 4 * kPer;  // codes per vector
  const uint32_t words[4] = {q.x, q.y, q.z, q.w};
  float dot[MR];
#pragma unroll
  for (int i = 0; i < MR; ++i) dot[i] = 0.0f;
#pragma unroll
  for (int wd = 0; wd < 4; ++wd) {
    float v[kPer];
    if constexpr (MX) {
      decode_mxfp4(words[wd], v);
    } else {
      decode_affine<BITS>(words[wd], v);
    }
#pragma unroll
    for (int i = 0; i < MR; ++i) {
      if (i < m) {
        const float4* xp = reinterpret_cast<const float4*>(xf + i * a.k + c * kCodes + wd * kPer);
#pragma unroll
        for (int e = 0; e < kPer / 4; ++e) {
          const float4 xv = xp[e];
          dot[i] = fmaf(v[4 * e], xv.x, dot[i]);
          dot[i] = fmaf(v[4 * e + 1], xv.y, dot[i]);
          dot[i] = fmaf(v[4 * e + 2], xv.z, dot[i]);
          dot[i] = fmaf(v[4 * e + 3], xv.w, dot[i]);
        }
      }
    }
  }
  if constexpr (MX) {
    const float s = e8m0(static_cast<const uint8_t*>(a.scales)[pi]);
#pragma unroll
    for (int i = 0; i < MR; ++i) {
      if (i < m) acc[i] = fmaf(dot[i] * 16384.0f, s, acc[i]);
    }
  } else {
    const float s = load_param(a.scales, pi, a.sd) * float(1 << BITS);
    const float b = load_param(a.biases, pi, a.sd);
#pragma unroll
    for (int i = 0; i < MR; ++i) {
      if (i < m) {
        const float sx = sums[i * a.vecs + c];
        acc[i] = fmaf(s, dot[i] - sx, fmaf(b, sx, acc[i]));
      }
    }
  }
}

// x [total] of T to float in shared memory: 16-byte loads, four in flight per thread.
template <typename T>
__device__ void stage_typed(const T* x, float* xs, int64_t total) {
  constexpr int kV = 16 / sizeof(T);
  const int64_t vecs = reinterpret_cast<uintptr_t>(x) % 16 == 0 ? total / kV : 0;
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  for (int64_t e = threadIdx.x; e < vecs; e += kUnroll * kThreads) {
    uint4 r[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      r[u] = e + u * kThreads < vecs ? __ldg(xv + e + u * kThreads) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (e + u * kThreads < vecs) {
        const T* p = reinterpret_cast<const T*>(&r[u]);
#pragma unroll
        for (int j = 0; j < kV; ++j) xs[(e + u * kThreads) * kV + j] = float(load_c(p[j]));
      }
    }
  }
  for (int64_t e = vecs * kV + threadIdx.x; e < total; e += kThreads) xs[e] = float(load_c(x[e]));
}

__device__ void stage_x(const void* x, Dtype::Val d, float* xs, int64_t total) {
  switch (d) {
    case Dtype::Val::bfloat16: stage_typed(static_cast<const __nv_bfloat16*>(x), xs, total); break;
    case Dtype::Val::float16: stage_typed(static_cast<const __half*>(x), xs, total); break;
    case Dtype::Val::float64: stage_typed(static_cast<const double*>(x), xs, total); break;
    default: stage_typed(static_cast<const float*>(x), xs, total); break;
  }
}

// Several rows of x make the product compute-bound: fewer vectors in flight,
// two blocks per SM guaranteed registers (three for one row).
template <int BITS, bool MX, int MR>
__global__ void __launch_bounds__(kThreads, MR == 1 ? 3 : 2) qgemv_kernel(QKernelArgs a) {
  constexpr int kInFlight = MR == 1 ? kUnroll : 2;
  extern __shared__ float4 staged[];
  __shared__ float partial[kThreads / 32][MR];
  constexpr int kCodes = 128 / BITS;
  const int m = MR == 1 ? 1 : a.m;
  const int group = 1 << a.lg;
  const int t = threadIdx.x & (group - 1);
  const int64_t rows_per_block = kThreads >> a.lg;
  // The first row set's first vectors are requested before x is staged, so
  // that their latency overlaps the staging.
  uint4 pre[kInFlight];
  {
    const int64_t row = blockIdx.x * rows_per_block + (threadIdx.x >> a.lg);
    const uint4* w = reinterpret_cast<const uint4*>(a.wq) + row * a.vecs;
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      pre[u] = row < a.n && t + u * group < a.vecs ? load_stream(w + t + u * group)
                                                   : make_uint4(0, 0, 0, 0);
    }
  }
  const float* xf = a.xf;
  const float* sums = a.sums;
  if (xf == nullptr) {
    float* xs = reinterpret_cast<float*>(staged);
    float* ss = xs + m * a.k;
    stage_x(a.x, a.xd, xs, m * a.k);
    __syncthreads();
    if constexpr (!MX) {
      // Each thread sums one vector's x, starting at its own offset (distinct banks).
      for (int64_t e = threadIdx.x; e < m * a.vecs; e += kThreads) {
        const float* p = xs + e * kCodes;
        float s = 0.0f;
        for (int j = 0; j < kCodes; ++j) s += p[(j + e) & (kCodes - 1)];
        ss[e] = s;
      }
      __syncthreads();
    }
    xf = xs;
    sums = ss;
  }
  bool first = true;
  for (int64_t base = blockIdx.x * rows_per_block; base < a.n;
       base += int64_t(gridDim.x) * rows_per_block) {
    const int64_t row = base + (threadIdx.x >> a.lg);
    float acc[MR];
#pragma unroll
    for (int i = 0; i < MR; ++i) acc[i] = 0.0f;
    if (row < a.n) {
      const uint4* w = reinterpret_cast<const uint4*>(a.wq) + row * a.vecs;
      const int64_t p0 = row * a.groups;
      int64_t c = t;
      for (; c + (kInFlight - 1) * group < a.vecs; c += kInFlight * group) {
        uint4 q[kInFlight];
#pragma unroll
        for (int u = 0; u < kInFlight; ++u) q[u] = first ? pre[u] : load_stream(w + c + u * group);
        first = false;
#pragma unroll
        for (int u = 0; u < kInFlight; ++u) {
          const int64_t cu = c + u * group;
          add_vector<BITS, MX, MR>(a, p0 + (cu >> a.vec_group_lg), cu, q[u], xf, sums, m, acc);
        }
      }
      for (; c < a.vecs; c += group) {
        const uint4 q = first ? pre[0] : load_stream(w + c);
        if (first) {
#pragma unroll
          for (int u = 0; u + 1 < kInFlight; ++u) pre[u] = pre[u + 1];
        }
        add_vector<BITS, MX, MR>(a, p0 + (c >> a.vec_group_lg), c, q, xf, sums, m, acc);
      }
    }
    first = false;
#pragma unroll
    for (int i = 0; i < MR; ++i) acc[i] = warp_sum(acc[i]);
    if (a.lg > 5) {
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
      __syncthreads();  // partial is written again by the next row set
    }
    if (t == 0 && row < a.n) {
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        if (i < m) store_out(a.y, i * a.n + row, a.yd, acc[i]);
      }
    }
  }
}

// x as float and its vector sums, for x too large for shared memory.
__global__ void stage_kernel(const void* x, Dtype::Val xd, int64_t total, int codes, float* xf,
                             float* sums) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int j = 0; j < codes; ++j) {
      const float v = static_cast<float>(load_double(x, e * codes + j, xd));
      xf[e * codes + j] = v;
      s += v;
    }
    sums[e] = s;
  }
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

template <int BITS, bool MX, int MR>
void launch_kernel(const QKernelArgs& args, size_t smem, cudaStream_t s) {
  auto kernel = qgemv_kernel<BITS, MX, MR>;
  static std::once_flag once;
  std::call_once(once, [&] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(kStageBytes)),
          "quantized_matmul");
  });
  const int64_t resident = int64_t(sm_count()) * blocks_per_sm((const void*)kernel, smem);
  QKernelArgs a = args;
  // A warp per row, widened while the rows leave the resident threads idle.
  if (a.lg == 0) {
    a.lg = 5;
    while (a.lg < 8 && (int64_t(1) << a.lg) < a.vecs &&
           a.n * (int64_t(1) << a.lg) < resident * kThreads) {
      ++a.lg;
    }
  }
  const int64_t rows_per_block = kThreads >> a.lg;
  const int64_t blocks = std::min((a.n + rows_per_block - 1) / rows_per_block, resident);
  kernel<<<static_cast<unsigned>(blocks), kThreads, smem, s>>>(a);
}

template <int BITS, bool MX>
void launch_rows(const QKernelArgs& a, size_t smem, cudaStream_t s) {
  if (a.m == 1) {
    launch_kernel<BITS, MX, 1>(a, smem, s);
  } else {
    launch_kernel<BITS, MX, kGemvMaxRows>(a, smem, s);
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
  return reinterpret_cast<uintptr_t>(a.wq) % 16 == 0;
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
    float* xf = static_cast<float*>(staged->ptr());
    a.xf = xf;
    a.sums = xf + g.m * g.k;
    const int64_t total = g.m * a.vecs;
    stage_kernel<<<grid_for(total), 256, 0, s>>>(g.x, a.xd, total, codes, xf, xf + g.m * g.k);
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
