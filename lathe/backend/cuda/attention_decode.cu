// Split-KV decode attention (Tq <= 4): the split planning and the combine
// kernel shared with the tensor-core kernel (attention_decode_mma.cu, bf16 and
// f16), and the SIMT kernel that float32 takes. A block takes one (batch, kv
// head, key range) and every query row of the GQA group at once, so K and V
// are read once. Lanes split a key row's features (8 each), lane
// groups split the keys. Each thread streams exactly the 16-byte pieces of K
// and V it will use through a private cp.async ring in shared memory, a few
// steps ahead, so many loads are in flight without holding registers. Each
// split leaves (max, sum, unnormalized output) in f32 scratch; a second kernel
// merges the splits. The number of splits fills the GPU once.
#include <algorithm>

#include "lathe/backend/cuda/attention.h"
#include "lathe/backend/cuda/attention_common.cuh"

namespace lathe::cuda::attn {

namespace {

constexpr int kThreads = 128;
constexpr int kMinLanes = 4;  // at most 32 key groups a block
constexpr int kStages = 3;    // key steps in flight per thread: kStages - 1 ahead

// Eight elements of T as raw 16-byte words (two for float).
template <typename T>
struct Vec8 {
  static constexpr int kWords = sizeof(T) / 2;
  uint4 w[kWords];
};

template <typename T>
__device__ __forceinline__ void to_float8(const Vec8<T>& v, float (&f)[8]) {
  if constexpr (std::is_same_v<T, float>) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      f[4 * i] = __uint_as_float(v.w[i].x);
      f[4 * i + 1] = __uint_as_float(v.w[i].y);
      f[4 * i + 2] = __uint_as_float(v.w[i].z);
      f[4 * i + 3] = __uint_as_float(v.w[i].w);
    }
  } else {
    const uint32_t u[4] = {v.w[0].x, v.w[0].y, v.w[0].z, v.w[0].w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        f[2 * i] = __uint_as_float(u[i] << 16);
        f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
      } else {
        __half2 h;
        memcpy(&h, &u[i], 4);
        const float2 x = __half22float2(h);
        f[2 * i] = x.x;
        f[2 * i + 1] = x.y;
      }
    }
  }
}

template <typename T, int ROWS>
struct DecodeConfig {
  static constexpr int kKeys = (ROWS > 4 || sizeof(T) == 4) ? 2 : 4;  // keys a group takes a step
  static constexpr int kWords = Vec8<T>::kWords;
  // The copy ring, [stage][key][k or v][word][thread] of 16 bytes; the block
  // merge reuses it.
  static constexpr size_t kRing = size_t(kStages) * kKeys * 2 * kWords * kThreads * 16;
  static constexpr size_t kMerge =
      (size_t(ROWS) * kThreads * 8 + 2 * (kThreads / kMinLanes) * ROWS + 2 * ROWS) * 4;
  static constexpr size_t kSmem = kRing > kMerge ? kRing : kMerge;
};

// Grid (row chunks, splits, b * hkv). Lane group grp takes keys
// j0 + u * groups + grp of each step; each lane holds 8 features of q, k, v
// and of the output rows. ROWS: query rows a block takes (4 or 8).
template <typename T, int ROWS>
__global__ void __launch_bounds__(kThreads) attention_decode_kernel(const DecodeArgs p) {
  using Cfg = DecodeConfig<T, ROWS>;
  constexpr int NK = Cfg::kKeys, W = Cfg::kWords;
  const AttnShape& a = p.a;
  extern __shared__ __align__(16) unsigned char dsm[];
  uint4* ring = reinterpret_cast<uint4*>(dsm);

  const int L = p.lanes, tid = threadIdx.x, sub = tid & (L - 1), grp = tid / L;
  const int groups = kThreads / L, step = groups * NK;
  const int r0 = blockIdx.x * ROWS, split = blockIdx.y;
  const int b = blockIdx.z / a.hkv, kh = blockIdx.z % a.hkv;
  const int nrows = min(ROWS, p.rows - r0);
  const int tk = keys_present(a, b);
  const int kb = p.key_begin + split * p.chunk;
  const int ke = min(min(p.key_end, tk), kb + p.chunk);
  const int steps = ke > kb ? (ke - kb + step - 1) / step : 0;

  const T* kp = static_cast<const T*>(a.k) + b * a.ks[0] + kh * a.ks[1] + sub * 8;
  const T* vp = static_cast<const T*>(a.v) + b * a.vs[0] + kh * a.vs[1] + sub * 8;
  const bool k_on = sub * 8 < a.d, v_on = sub * 8 < a.dv;
  auto slot = [&](int stage, int u, int kind, int w) {
    return ring + (((stage * NK + u) * 2 + kind) * W + w) * kThreads + tid;
  };
  // Starts the copies of step it (an empty group past the last step, so that
  // every thread commits the same number of groups).
  auto issue = [&](int it) {
    if (it < steps) {
      const int stage = it % kStages, j0 = kb + it * step;
#pragma unroll
      for (int u = 0; u < NK; ++u) {
        const int j = j0 + u * groups + grp;
        const bool kok = j < ke && k_on, vok = j < ke && v_on;
#pragma unroll
        for (int w = 0; w < W; ++w) {
          cp_async16(slot(stage, u, 0, w), kok ? kp + j * a.ks[2] + w * 4 : kp, kok);
          cp_async16(slot(stage, u, 1, w), vok ? vp + j * a.vs[2] + w * 4 : vp, vok);
        }
      }
    }
    cp_async_commit();
  };
#pragma unroll
  for (int it = 0; it < kStages - 1; ++it) issue(it);

  float q[ROWS][8];
  int lo[ROWS], hi[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    lo[r] = 1;
    hi[r] = 0;
#pragma unroll
    for (int e = 0; e < 8; ++e) q[r][e] = 0.f;
    if (r < nrows) {
      const int rg = r0 + r, t = rg % a.tq, h = kh * a.group + rg / a.tq;
      const int pos = t + tk - a.tq;
      lo[r] = key_lo(a, pos);
      hi[r] = key_hi(a, pos, tk);
      const T* qp = static_cast<const T*>(a.q) + b * a.qs[0] + h * a.qs[1] + t * a.qs[2];
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const int i = sub * 8 + e;
        if (i < a.d) q[r][e] = static_cast<float>(load_c(qp[i * a.qs[3]])) * a.scale_log2;
      }
    }
  }

  float m[ROWS], l[ROWS], acc[ROWS][8];
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[r][e] = 0.f;
  }

  for (int it = 0; it < steps; ++it) {
    issue(it + kStages - 1);
    cp_async_wait<kStages - 1>();  // this thread's copies of step it have landed
    const int stage = it % kStages, j0 = kb + it * step;
    float s[ROWS][NK];
#pragma unroll
    for (int u = 0; u < NK; ++u) {
      Vec8<T> kv;
#pragma unroll
      for (int w = 0; w < W; ++w) kv.w[w] = *slot(stage, u, 0, w);
      float kf[8];
      to_float8(kv, kf);
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
        float x = 0.f;
#pragma unroll
        for (int e = 0; e < 8; ++e) x = fmaf(q[r][e], kf[e], x);
        s[r][u] = x;
      }
    }
    for (int o = L / 2; o > 0; o >>= 1) {
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
#pragma unroll
        for (int u = 0; u < NK; ++u) s[r][u] += __shfl_xor_sync(0xffffffffu, s[r][u], o);
      }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
#pragma unroll
      for (int u = 0; u < NK; ++u) {
        const int j = j0 + u * groups + grp;
        if (j >= ke || j < lo[r] || j > hi[r]) {
          s[r][u] = -INFINITY;
        } else if (a.has_mask) {
          const int rg = r0 + r;
          s[r][u] += mask_log2(a, b, kh * a.group + rg / a.tq, rg % a.tq, j);
        }
      }
      float mx = s[r][0];
#pragma unroll
      for (int u = 1; u < NK; ++u) mx = fmaxf(mx, s[r][u]);
      const float nm = fmaxf(m[r], mx);
      const float base = nm == -INFINITY ? 0.f : nm;
      const float c = exp2f(m[r] - base);
      float sum = 0.f;
#pragma unroll
      for (int u = 0; u < NK; ++u) {
        s[r][u] = exp2f(s[r][u] - base);
        sum += s[r][u];
      }
      l[r] = l[r] * c + sum;
      m[r] = nm;
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[r][e] *= c;
    }
#pragma unroll
    for (int u = 0; u < NK; ++u) {
      Vec8<T> vv;
#pragma unroll
      for (int w = 0; w < W; ++w) vv.w[w] = *slot(stage, u, 1, w);
      float vf[8];
      to_float8(vv, vf);
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[r][e] = fmaf(s[r][u], vf[e], acc[r][e]);
      }
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // the ring becomes the merge buffer

  // Merge the lane groups of the block: rescale each to the block's max, sum.
  float* red_acc = reinterpret_cast<float*>(dsm);  // [ROWS][threads * 8]
  float* red_m = red_acc + ROWS * kThreads * 8;    // [groups][ROWS]
  float* red_l = red_m + (kThreads / kMinLanes) * ROWS;
  float* tot_m = red_l + (kThreads / kMinLanes) * ROWS;  // [ROWS]
  float* tot_l = tot_m + ROWS;                           // [ROWS]
  if (sub == 0) {
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
      red_m[grp * ROWS + r] = m[r];
      red_l[grp * ROWS + r] = l[r];
    }
  }
  __syncthreads();
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    float mx = -INFINITY;
    for (int g = 0; g < groups; ++g) mx = fmaxf(mx, red_m[g * ROWS + r]);
    const float c = m[r] == -INFINITY ? 0.f : exp2f(m[r] - mx);
    float4* dst = reinterpret_cast<float4*>(red_acc + r * kThreads * 8 + tid * 8);
    dst[0] = make_float4(acc[r][0] * c, acc[r][1] * c, acc[r][2] * c, acc[r][3] * c);
    dst[1] = make_float4(acc[r][4] * c, acc[r][5] * c, acc[r][6] * c, acc[r][7] * c);
    if (tid == r) {
      float sum = 0.f;
      for (int g = 0; g < groups; ++g) {
        const float mg = red_m[g * ROWS + r];
        if (mg != -INFINITY) sum += red_l[g * ROWS + r] * exp2f(mg - mx);
      }
      tot_m[r] = mx;
      tot_l[r] = sum;
    }
  }
  __syncthreads();
  for (int idx = tid; idx < nrows * a.dv; idx += kThreads) {
    const int r = idx / a.dv, i = idx % a.dv;
    float x = 0.f;
    for (int g = 0; g < groups; ++g) x += red_acc[r * kThreads * 8 + g * 8 * L + i];
    const float mx = tot_m[r];
    const int rg = r0 + r, t = rg % a.tq, h = kh * a.group + rg / a.tq;
    const int64_t row = (static_cast<int64_t>(b) * a.hq + h) * a.tq + t;
    if (p.splits == 1) {
      const float f = out_factor(mx, tot_l[r], a.has_sinks, a.has_sinks ? sink_log2(a, h) : 0.f);
      static_cast<T*>(a.out)[row * a.dv + i] = store_c<T>(x * f);
    } else {
      p.part[(row * p.splits + split) * a.dv + i] = x;
      if (i == 0) {
        p.part_ml[(row * p.splits + split) * 2] = mx;
        p.part_ml[(row * p.splits + split) * 2 + 1] = tot_l[r];
      }
    }
  }
}

constexpr int kCombineThreads = 256;
constexpr int kCombineCols = 32;                                      // output columns a block
constexpr int kCombineGroups = kCombineThreads / (kCombineCols / 4);  // split groups

size_t combine_smem(int splits) {
  return (8 + (static_cast<size_t>(splits) + 7) / 4 * 4 + kCombineGroups * kCombineCols) * 4;
}

// Grid (output rows, column blocks of 32): merges the splits' partial results.
// Threads are (split group, 4 columns); each sums its splits with 16-byte loads.
template <typename T>
__global__ void __launch_bounds__(kCombineThreads)
    attention_combine_kernel(const AttnShape a, const float* part, const float* part_ml,
                             int splits) {
  extern __shared__ __align__(16) float csm[];
  float* red = csm;                        // [8 warps]
  float* w = csm + 8;                      // [splits], 16-byte aligned
  float* sums = w + (splits + 7) / 4 * 4;  // [groups][32 columns]
  const int64_t row = blockIdx.x;
  const int h = static_cast<int>((row / a.tq) % a.hq);
  const float* ml = part_ml + row * splits * 2;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  float mx = -INFINITY;
  for (int s = tid; s < splits; s += kCombineThreads) mx = fmaxf(mx, ml[2 * s]);
  mx = warp_max(mx);
  if (lane == 0) red[warp] = mx;
  __syncthreads();
  mx = red[0];
  for (int i = 1; i < kCombineThreads / 32; ++i) mx = fmaxf(mx, red[i]);
  __syncthreads();
  const float sink = a.has_sinks ? sink_log2(a, h) : -INFINITY;
  const float mf = fmaxf(mx, sink);
  T* y = static_cast<T*>(a.out) + row * a.dv;
  const int c0 = blockIdx.y * kCombineCols;
  if (mf == -INFINITY) {
    if (tid < kCombineCols && c0 + tid < a.dv) y[c0 + tid] = store_c<T>(0.f);
    return;
  }
  float sum = 0.f;
  for (int s = tid; s < splits; s += kCombineThreads) {
    const float ms = ml[2 * s];
    const float ws = ms == -INFINITY ? 0.f : exp2f(ms - mf);
    w[s] = ws;
    sum += ws * ml[2 * s + 1];
  }
  sum = warp_sum(sum);
  if (lane == 0) red[warp] = sum;
  __syncthreads();
  float denom = a.has_sinks ? exp2f(sink - mf) : 0.f;
  for (int i = 0; i < kCombineThreads / 32; ++i) denom += red[i];
  const int c4 = tid % (kCombineCols / 4), group = tid / (kCombineCols / 4);
  const int c = c0 + c4 * 4;
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  if (c < a.dv) {
    for (int s = group; s < splits; s += kCombineGroups) {
      const float4 x = *reinterpret_cast<const float4*>(part + (row * splits + s) * a.dv + c);
      const float ws = w[s];
      acc.x = fmaf(ws, x.x, acc.x);
      acc.y = fmaf(ws, x.y, acc.y);
      acc.z = fmaf(ws, x.z, acc.z);
      acc.w = fmaf(ws, x.w, acc.w);
    }
  }
  *reinterpret_cast<float4*>(sums + group * kCombineCols + c4 * 4) = acc;
  __syncthreads();
  if (tid < kCombineCols && c0 + tid < a.dv) {
    float x = 0.f;
    for (int g = 0; g < kCombineGroups; ++g) x += sums[g * kCombineCols + tid];
    y[c0 + tid] = store_c<T>(denom > 0.f ? x / denom : 0.f);
  }
}

int pow2_at_least(int x) {
  int p = 1;
  while (p < x) p <<= 1;
  return p;
}

// Blocks of the decode kernel resident on one SM (read once per instantiation,
// which also raises its shared-memory limit).
template <typename T, int ROWS>
int decode_blocks_per_sm() {
  static const int n = [] {
    constexpr size_t smem = DecodeConfig<T, ROWS>::kSmem;
    check(cudaFuncSetAttribute(attention_decode_kernel<T, ROWS>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
          "scaled_dot_product_attention");
    int blocks = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, attention_decode_kernel<T, ROWS>,
                                                        kThreads, smem),
          "scaled_dot_product_attention");
    return std::max(blocks, 1);
  }();
  return n;
}

template <typename T, int ROWS>
void launch_rows(const AttnShape& s, int first_key) {
  const int lanes =
      std::max(kMinLanes, pow2_at_least(static_cast<int>(ceil_div(std::max(s.d, s.dv), 8))));
  DecodePlan plan =
      plan_decode(s, first_key, ROWS, (kThreads / lanes) * DecodeConfig<T, ROWS>::kKeys,
                  decode_blocks_per_sm<T, ROWS>());
  DecodeArgs& p = plan.args;
  p.lanes = lanes;
  const dim3 grid(plan.row_chunks, p.splits, s.b * s.hkv);
  attention_decode_kernel<T, ROWS>
      <<<grid, kThreads, DecodeConfig<T, ROWS>::kSmem, current_stream()>>>(p);
  launch_combine<T>(p);
}

}  // namespace

DecodePlan plan_decode(const AttnShape& s, int first_key, int rows_per_block, int64_t keys_per_step,
                       int blocks_per_sm) {
  DecodePlan plan{};
  DecodeArgs& p = plan.args;
  p.a = s;
  p.rows = s.group * s.tq;
  p.key_begin = first_key;
  p.key_end = s.tk;
  plan.row_chunks = static_cast<int>(ceil_div(p.rows, rows_per_block));
  const int64_t span = std::max(0, p.key_end - p.key_begin);
  const int64_t units = static_cast<int64_t>(s.b) * s.hkv * plan.row_chunks;
  // Enough splits to fill every SM once (a second, partial wave would idle most
  // of the GPU), but no split under kMinKeysPerSplit keys.
  const int64_t slots = static_cast<int64_t>(sm_count()) * blocks_per_sm;
  int64_t splits = std::max<int64_t>(1, slots / units);
  splits = std::min(splits, ceil_div(span, std::max<int64_t>(keys_per_step, kMinKeysPerSplit)));
  splits = std::clamp<int64_t>(splits, 1, 4096);
  int64_t chunk = ceil_div(std::max<int64_t>(span, 1), splits);
  chunk = ceil_div(chunk, keys_per_step) * keys_per_step;
  splits = std::max<int64_t>(1, ceil_div(span, chunk));
  p.chunk = static_cast<int>(chunk);
  p.splits = static_cast<int>(splits);
  if (p.splits > 1) {
    const int64_t out_rows = static_cast<int64_t>(s.b) * s.hq * s.tq;
    const size_t n_acc = static_cast<size_t>(out_rows) * p.splits * s.dv;
    plan.scratch = scratch((n_acc + static_cast<size_t>(out_rows) * p.splits * 2) * sizeof(float));
    p.part = static_cast<float*>(plan.scratch->ptr());
    p.part_ml = p.part + n_acc;
  }
  return plan;
}

template <typename T>
void launch_combine(const DecodeArgs& p) {
  if (p.splits <= 1) return;
  check_launch("scaled_dot_product_attention");
  const AttnShape& s = p.a;
  const int64_t out_rows = static_cast<int64_t>(s.b) * s.hq * s.tq;
  const dim3 grid(static_cast<unsigned>(out_rows),
                  static_cast<unsigned>(ceil_div(s.dv, kCombineCols)));
  attention_combine_kernel<T><<<grid, kCombineThreads, combine_smem(p.splits), current_stream()>>>(
      s, p.part, p.part_ml, p.splits);
}

template void launch_combine<float>(const DecodeArgs&);
template void launch_combine<__half>(const DecodeArgs&);
template void launch_combine<__nv_bfloat16>(const DecodeArgs&);

template <typename T>
void launch_decode(const AttnShape& s, int first_key) {
  if constexpr (std::is_same_v<T, float>) {
    if (s.group * s.tq <= 4) {
      launch_rows<T, 4>(s, first_key);
    } else {
      launch_rows<T, 8>(s, first_key);
    }
  } else {
    launch_decode_mma<T>(s, first_key);
  }
}

template void launch_decode<float>(const AttnShape&, int);
template void launch_decode<__half>(const AttnShape&, int);
template void launch_decode<__nv_bfloat16>(const AttnShape&, int);

}  // namespace lathe::cuda::attn
