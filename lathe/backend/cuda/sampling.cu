// CUDA kernels of sample_tokens and count_tokens. sample_tokens runs a cluster of up to 8
// blocks per row (one block for short rows), each block over a contiguous segment of the row;
// the blocks exchange histograms and partial results through distributed shared memory and
// all make the same decisions from them:
//   1. the largest logit (for greedy, the argmax);
//   2. top-k: the k-th largest key, by a radix select on counts (digits of 11, 11, 10 bits);
//   3. top-p: the smallest key whose mass above is below top_p * total, by the same radix
//      select on the integer masses;
//   4. the draw: each block's kept mass, the block that holds the target, then that block
//      narrows to the token by summing 32 pieces of its range at a time.
// Masses are integers (lathe/primitives/sampling.h), so sums are exact in any order and the
// result is the CPU kernel's, bit for bit. Values are recomputed at every pass (the row stays
// in L2) from the logits and the counts.
#include <cooperative_groups.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "lathe/backend/cuda/copy.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/sampling.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int kBins = 2048;
constexpr int kMaxCluster = 8;
constexpr unsigned kFull = 0xffffffffu;
using u64 = unsigned long long;

struct Args {
  const void* logits;
  Dtype::Val dtype;
  int64_t l_row, l_col;
  const float* u;
  int64_t u_stride;
  const float* prompt;
  int64_t p_row, p_col;
  const float* gen;
  int64_t g_row, g_col;
  int32_t* out;
  int64_t rows, v;
  float temperature, rep, pres, freq, log_min_p;
  int64_t top_k;
  double top_p;
  int scale;
  bool greedy, scale_t, use_counts, use_rep, use_pf, use_top_k, use_top_p, use_min_p;
};

struct Shared {
  unsigned int count[kBins];
  u64 mass[kBins];
  // Read by the other blocks of the cluster.
  float max_v;
  long long max_i, nan_i;
  u64 kept;
  // Block-local.
  u64 warp_a[32], warp_b[32];
  float warp_v[32];
  long long warp_i[32], warp_n[32];
  u64 piece[32];
  float m;
  long long arg, first_nan;
  int found_bin;
  u64 found_above;
  int rank_hit;
  u64 residual;
  long long lo, hi;
};

__device__ __forceinline__ void cluster_sync(int cs) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (cs > 1) {
    cg::this_cluster().sync();
    return;
  }
#endif
  __syncthreads();
}

// Block r's shared memory (this block's own when there is no cluster).
__device__ __forceinline__ Shared* rank_ptr(Shared* p, int cs, int r) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (cs > 1) return cg::this_cluster().map_shared_rank(p, static_cast<unsigned>(r));
#endif
  return p;
}

__device__ __forceinline__ float load_logit(const Args& a, int64_t r, int64_t i) {
  const int64_t o = r * a.l_row + i * a.l_col;
  switch (a.dtype) {
    case Dtype::Val::bfloat16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(a.logits)[o]);
    case Dtype::Val::float16: return __half2float(static_cast<const __half*>(a.logits)[o]);
    case Dtype::Val::float64: return __double2float_rn(static_cast<const double*>(a.logits)[o]);
    default: return static_cast<const float*>(a.logits)[o];
  }
}

// Steps 1-3 of lathe/ops/sampling.h in float32, rounded as the CPU kernel rounds (no
// contraction into fused multiply-adds).
__device__ __forceinline__ float value_at(const Args& a, int64_t r, int64_t i) {
  float x = load_logit(a, r, i);
  if (a.use_counts) {
    const float g = a.gen[r * a.g_row + i * a.g_col];
    if (a.use_rep && (a.prompt[r * a.p_row + i * a.p_col] > 0.0f || g > 0.0f))
      x = x < 0.0f ? __fmul_rn(x, a.rep) : __fdiv_rn(x, a.rep);
    if (a.use_pf) {
      const float present = g > 0.0f ? 1.0f : 0.0f;
      x = __fsub_rn(x, __fmul_rn(present, a.pres));
      x = __fsub_rn(x, __fmul_rn(g, a.freq));
    }
  }
  if (a.scale_t) x = __fdiv_rn(x, a.temperature);
  return x;
}

__device__ __forceinline__ u64 kept_weight(const Args& a, int64_t r, int64_t i, float m,
                                           uint32_t floor_key) {
  const float x = value_at(a, r, i);
  if (x != x || sampling::key_of(x) < floor_key) return 0;
  return sampling::weight_of(x, m, a.scale);
}

// The larger value; the smaller index among equals.
__device__ __forceinline__ void merge_max(float& v, long long& i, float ov, long long oi) {
  if (oi >= 0 && (i < 0 || ov > v || (ov == v && oi < i))) {
    v = ov;
    i = oi;
  }
}

__device__ __forceinline__ void merge_first(long long& i, long long oi) {
  if (oi >= 0 && (i < 0 || oi < i)) i = oi;
}

__device__ __forceinline__ u64 warp_sum(u64 v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(kFull, v, o);
  return v;
}

// x, y become the sums over the threads above this one (higher threadIdx.x); tx, ty the
// block's totals.
__device__ void suffix_scan(Shared& sh, u64& x, u64& y, u64& tx, u64& ty) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  u64 ix = x, iy = y;
  for (int o = 1; o < 32; o <<= 1) {
    const u64 dx = __shfl_down_sync(kFull, ix, o), dy = __shfl_down_sync(kFull, iy, o);
    if (lane + o < 32) {
      ix += dx;
      iy += dy;
    }
  }
  if (lane == 0) {
    sh.warp_a[warp] = ix;
    sh.warp_b[warp] = iy;
  }
  __syncthreads();
  u64 ax = 0, ay = 0;
  tx = 0;
  ty = 0;
  for (int w = 0; w < nwarps; ++w) {
    if (w > warp) {
      ax += sh.warp_a[w];
      ay += sh.warp_b[w];
    }
    tx += sh.warp_a[w];
    ty += sh.warp_b[w];
  }
  __syncthreads();
  x = ax + ix - x;
  y = ay + iy - y;
}

__device__ __forceinline__ void bin_total(Shared* sh, int cs, int b, bool mass, u64& c, u64& m) {
  c = 0;
  m = 0;
  for (int r = 0; r < cs; ++r) {
    const Shared* o = rank_ptr(sh, cs, r);
    c += o->count[b];
    if (mass) m += o->mass[b];
  }
}

// One digit of a descending radix search over the row's eligible keys (not NaN, at least
// floor_key, and equal to prefix above this digit). Count mode (mass = false): the digit of
// the k-th largest key, with `above` the count of eligible keys above the prefix. Mass mode:
// the lowest non-empty digit whose mass above stays below `limit` (set from the total at
// level 0). Returns false when the count search has nothing to cut (k >= eligible keys).
__device__ bool radix_level(const Args& a, Shared& sh, int cs, int64_t row, int64_t lo, int64_t hi,
                            float m, int level, uint32_t floor_key, bool mass, u64 k,
                            uint32_t& prefix, u64& above, double& limit) {
  const int tid = threadIdx.x, nt = blockDim.x;
  const int shift = level == 0 ? 21 : (level == 1 ? 10 : 0);
  const int top = level == 0 ? 32 : (level == 1 ? 21 : 10);  // the bits above the digit
  const uint32_t mask = level == 2 ? 0x3ffu : 0x7ffu;
  for (int b = tid; b < kBins; b += nt) {
    sh.count[b] = 0;
    sh.mass[b] = 0;
  }
  if (tid == 0) sh.found_bin = mass ? kBins : -1;
  __syncthreads();
  for (int64_t i = lo + tid; i < hi; i += nt) {
    const float x = value_at(a, row, i);
    if (x != x) continue;
    const uint32_t key = sampling::key_of(x);
    if (key < floor_key || (top < 32 && (key >> top) != (prefix >> top))) continue;
    const int b = static_cast<int>((key >> shift) & mask);
    atomicAdd(&sh.count[b], 1u);
    if (mass) {
      const u64 q = sampling::weight_of(x, m, a.scale);
      if (q) atomicAdd(&sh.mass[b], q);
    }
  }
  cluster_sync(cs);

  // This thread's bins: [tid * bpt, (tid + 1) * bpt).
  const int bpt = kBins / nt;
  u64 c_mine = 0, m_mine = 0;
  for (int j = 0; j < bpt; ++j) {
    u64 c, mm;
    bin_total(&sh, cs, tid * bpt + j, mass, c, mm);
    c_mine += c;
    m_mine += mm;
  }
  u64 c_run = c_mine, m_run = m_mine, c_all, m_all;
  suffix_scan(sh, c_run, m_run, c_all, m_all);
  bool cut = true;
  if (!mass && level == 0 && k >= c_all) cut = false;
  if (mass && level == 0) limit = __dmul_rn(a.top_p, double(m_all));
  if (cut) {
    int cand = -1;
    u64 cand_above = 0;
    for (int j = bpt - 1; j >= 0; --j) {
      const int b = tid * bpt + j;
      u64 c, mm;
      bin_total(&sh, cs, b, mass, c, mm);
      if (!mass) {
        if (above + c_run < k && k <= above + c_run + c) {
          cand = b;
          cand_above = above + c_run;
        }
      } else if (c > 0 && double(above + m_run) < limit) {
        cand = b;
        cand_above = above + m_run;
      }
      c_run += c;
      m_run += mm;
    }
    if (cand >= 0) {
      if (mass) {
        atomicMin(&sh.found_bin, cand);
      } else {
        sh.found_bin = cand;
        sh.found_above = cand_above;
      }
    }
    __syncthreads();
    if (mass && cand >= 0 && cand == sh.found_bin) sh.found_above = cand_above;
    __syncthreads();
    prefix |= static_cast<uint32_t>(sh.found_bin) << shift;
    above = sh.found_above;
  }
  // Nobody clears its histogram before every block has read it.
  cluster_sync(cs);
  return cut;
}

// The draw inside this block's [lo, hi): the token where the kept weights' running sum
// passes sh.residual.
__device__ void narrow(const Args& a, Shared& sh, int64_t row, int64_t lo, int64_t hi, float m,
                       uint32_t floor_key) {
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nwarps = blockDim.x >> 5;
  u64 r = sh.residual;
  while (hi - lo > 32) {
    const int64_t piece = (hi - lo + 31) / 32;
    for (int p = warp; p < 32; p += nwarps) {
      const int64_t plo = lo + p * piece, phi = min(hi, plo + piece);
      u64 s = 0;
      for (int64_t i = plo + lane; i < phi; i += 32) s += kept_weight(a, row, i, m, floor_key);
      s = warp_sum(s);
      if (lane == 0) sh.piece[p] = s;
    }
    __syncthreads();
    if (tid == 0) {
      u64 before = 0;
      int hit = 31;
      for (int p = 0; p < 32; ++p) {
        if (r < before + sh.piece[p]) {
          hit = p;
          break;
        }
        before += sh.piece[p];
      }
      sh.lo = lo + hit * piece;
      sh.hi = min(hi, static_cast<int64_t>(sh.lo) + piece);
      sh.residual = r - before;
    }
    __syncthreads();
    lo = sh.lo;
    hi = sh.hi;
    r = sh.residual;
    __syncthreads();
  }
  if (warp == 0) {
    const int64_t i = lo + lane;
    u64 incl = i < hi ? kept_weight(a, row, i, m, floor_key) : 0;
    for (int o = 1; o < 32; o <<= 1) {
      const u64 up = __shfl_up_sync(kFull, incl, o);
      if (lane >= o) incl += up;
    }
    const unsigned hit = __ballot_sync(kFull, incl > r);
    if (hit != 0 && lane == __ffs(hit) - 1) a.out[row] = static_cast<int32_t>(i);
    if (hit == 0 && lane == 0) a.out[row] = static_cast<int32_t>(lo);  // unreachable
  }
}

__global__ void __launch_bounds__(1024) sample_kernel(Args a, int cs) {
  __shared__ Shared sh;
  const int rank = static_cast<int>(blockIdx.x);  // the grid is one cluster wide
  const int tid = threadIdx.x, nt = blockDim.x, lane = tid & 31, warp = tid >> 5;
  const int nwarps = nt >> 5;
  const int64_t seg = (a.v + cs - 1) / cs;
  const int64_t lo = min(a.v, rank * seg), hi = min(a.v, lo + seg);
  for (int64_t row = blockIdx.y; row < a.rows; row += gridDim.y) {
    // 1. The largest value (first index among equals) and the first NaN.
    float bv = 0.0f;
    long long bi = -1, bn = -1;
    for (int64_t i = lo + tid; i < hi; i += nt) {
      const float x = value_at(a, row, i);
      if (x != x) {
        if (bn < 0) bn = i;
      } else if (bi < 0 || x > bv) {
        bv = x;
        bi = i;
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_down_sync(kFull, bv, o);
      const long long oi = __shfl_down_sync(kFull, bi, o), on = __shfl_down_sync(kFull, bn, o);
      merge_max(bv, bi, ov, oi);
      merge_first(bn, on);
    }
    if (lane == 0) {
      sh.warp_v[warp] = bv;
      sh.warp_i[warp] = bi;
      sh.warp_n[warp] = bn;
    }
    __syncthreads();
    if (tid == 0) {
      for (int w = 1; w < nwarps; ++w) {
        merge_max(bv, bi, sh.warp_v[w], sh.warp_i[w]);
        merge_first(bn, sh.warp_n[w]);
      }
      sh.max_v = bv;
      sh.max_i = bi;
      sh.nan_i = bn;
    }
    cluster_sync(cs);
    if (tid == 0) {
      float m = 0.0f;
      long long mi = -1, mn = -1;
      for (int r = 0; r < cs; ++r) {
        const Shared* o = rank_ptr(&sh, cs, r);
        merge_max(m, mi, o->max_v, o->max_i);
        merge_first(mn, o->nan_i);
      }
      sh.m = m;
      sh.arg = mi;
      sh.first_nan = mn;
    }
    __syncthreads();
    const float m = sh.m;
    if (a.greedy || sh.arg < 0) {
      if (rank == 0 && tid == 0) {
        long long pick = sh.arg >= 0 ? sh.arg : 0;
        if (a.greedy && sh.first_nan >= 0) pick = sh.first_nan;
        a.out[row] = static_cast<int32_t>(pick);
      }
      cluster_sync(cs);
      continue;
    }

    // 2-3. The thresholds, as keys: tokens with key >= floor_key are kept.
    uint32_t floor_key = 0;
    double limit = 0.0;
    if (a.use_top_k) {
      uint32_t prefix = 0;
      u64 above = 0;
      bool cut = true;
      for (int level = 0; level < 3 && cut; ++level)
        cut = radix_level(a, sh, cs, row, lo, hi, m, level, 0, false, static_cast<u64>(a.top_k),
                          prefix, above, limit);
      if (cut) floor_key = prefix;
    }
    if (a.use_top_p) {
      uint32_t prefix = 0;
      u64 above = 0;
      for (int level = 0; level < 3; ++level)
        radix_level(a, sh, cs, row, lo, hi, m, level, floor_key, true, 0, prefix, above, limit);
      floor_key = prefix;
    }
    if (a.use_min_p) floor_key = max(floor_key, sampling::key_of(__fadd_rn(m, a.log_min_p)));

    // 4. The draw: the block whose kept mass holds the target, then the token in it.
    u64 kept = 0;
    for (int64_t i = lo + tid; i < hi; i += nt) kept += kept_weight(a, row, i, m, floor_key);
    kept = warp_sum(kept);
    if (lane == 0) sh.warp_a[warp] = kept;
    __syncthreads();
    if (tid == 0) {
      u64 s = 0;
      for (int w = 0; w < nwarps; ++w) s += sh.warp_a[w];
      sh.kept = s;
    }
    cluster_sync(cs);
    if (tid == 0) {
      u64 total = 0;
      for (int r = 0; r < cs; ++r) total += rank_ptr(&sh, cs, r)->kept;
      const u64 target = sampling::draw_target(a.u[row * a.u_stride], total);
      u64 before = 0;
      int hit = cs - 1;
      for (int r = 0; r < cs; ++r) {
        const u64 k = rank_ptr(&sh, cs, r)->kept;
        if (target < before + k) {
          hit = r;
          break;
        }
        before += k;
      }
      sh.rank_hit = hit;
      sh.residual = target - before;
    }
    __syncthreads();
    if (sh.rank_hit == rank) narrow(a, sh, row, lo, hi, m, floor_key);
    // The published values of this row are read until here.
    cluster_sync(cs);
  }
}

__global__ void count_kernel(float* counts, const int32_t* ids, int64_t id_stride, int64_t rows,
                             int64_t v) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    const int32_t id = ids[r * id_stride];
    if (id >= 0 && id < v) counts[r * v + id] += 1.0f;
  }
}

bool clusters_supported() {
  static const bool ok = [] {
    int dev = 0, v = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    if (cudaDeviceGetAttribute(&v, cudaDevAttrClusterLaunch, dev) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return v != 0;
  }();
  return ok;
}

// Blocks per row: one per 16384 tokens, at most 8 (LATHE_CUDA_SAMPLE_CLUSTER=1..8 forces a
// size, for tests and benchmarks).
int cluster_for(int64_t v) {
  int cs = static_cast<int>(std::clamp<int64_t>(v / 16384, 1, kMaxCluster));
  if (const char* e = std::getenv("LATHE_CUDA_SAMPLE_CLUSTER")) {
    const int n = std::atoi(e);
    if (n >= 1 && n <= kMaxCluster) cs = n;
  }
  return clusters_supported() ? cs : 1;
}

}  // namespace
}  // namespace cuda

void SampleTokens::eval_cuda(const NodeList& in, Node& out) {
  const Node& logits = *in[0];
  out.allocate();
  const int64_t rows = logits.shape[0], v = logits.shape[1];
  if (rows == 0) return;
  cuda::Args a{};
  a.logits = logits.raw();
  a.dtype = logits.dtype.val;
  a.l_row = logits.strides[0];
  a.l_col = logits.strides[1];
  size_t k = 1;
  if (!p_.greedy()) {
    const Node& u = *in[k++];
    a.u = u.data<float>();
    a.u_stride = u.strides[0];
  }
  if (p_.uses_prompt_counts()) {
    const Node& c = *in[k++];
    a.prompt = c.data<float>();
    a.p_row = c.strides[0];
    a.p_col = c.strides[1];
  }
  if (p_.uses_generated_counts()) {
    const Node& c = *in[k++];
    a.gen = c.data<float>();
    a.g_row = c.strides[0];
    a.g_col = c.strides[1];
  }
  a.out = out.data<int32_t>();
  a.rows = rows;
  a.v = v;
  a.greedy = p_.greedy();
  a.temperature = p_.temperature;
  a.scale_t = !a.greedy && p_.temperature != 1.0f;
  a.use_counts = p_.uses_generated_counts();
  a.use_rep = p_.uses_prompt_counts();
  a.use_pf = p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  a.rep = p_.repetition_penalty;
  a.pres = p_.presence_penalty;
  a.freq = p_.frequency_penalty;
  a.top_k = p_.top_k;
  a.use_top_k = !a.greedy && p_.top_k > 0 && p_.top_k < v;
  a.top_p = p_.top_p;
  a.use_top_p = !a.greedy && p_.top_p < 1.0;
  a.use_min_p = !a.greedy && p_.min_p > 0.0;
  a.log_min_p = a.use_min_p ? static_cast<float>(std::log(p_.min_p)) : 0.0f;
  a.scale = sampling::scale_bits(v);

  const int cs = cuda::cluster_for(v);
  const int64_t seg = (v + cs - 1) / cs;
  unsigned threads = 32;
  while (threads < 1024 && int64_t(threads) * 4 < seg) threads <<= 1;
  const dim3 grid(static_cast<unsigned>(cs), static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
  cudaStream_t st = cuda::current_stream();
  bool launched = false;
  if (cs > 1) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = dim3(threads);
    cfg.dynamicSmemBytes = 0;
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = static_cast<unsigned>(cs);
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    launched = cudaLaunchKernelEx(&cfg, cuda::sample_kernel, a, cs) == cudaSuccess;
    if (!launched) (void)cudaGetLastError();  // no room for the cluster: one block per row
  }
  if (!launched) {
    const dim3 one(1, grid.y);
    cuda::sample_kernel<<<one, threads, 0, st>>>(a, 1);
  }
  cuda::check(cudaGetLastError(), name());
}

void CountTokens::eval_cuda(const NodeList& in, Node& out) {
  Node& counts = *in[0];
  const Node& ids = *in[1];
  if (counts.donatable() && counts.dtype == out.dtype && counts.shape == out.shape) {
    out.donate_from(counts);
  } else {
    out.allocate();
    if (out.size() > 0) cuda::copy_to_contiguous(counts, out.raw());
  }
  const int64_t rows = out.shape[0], v = out.shape[1];
  if (rows == 0) return;
  cuda::count_kernel<<<cuda::grid_for(static_cast<size_t>(rows)), 256, 0, cuda::current_stream()>>>(
      out.data<float>(), ids.data<int32_t>(), ids.strides[0], rows, v);
  cuda::check(cudaGetLastError(), name());
}

}  // namespace lathe
