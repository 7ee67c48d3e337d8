// Prefill attention on the tensor cores (bf16, f16): flash-attention tiles of
// 64 queries (16 a warp) by 32 keys, mma.sync m16n8k16 with f32
// accumulators, an online softmax in f32, K/V tiles double-buffered through
// cp.async, and key tiles beyond the causal/window limits skipped. Head dims
// up to 256 in three classes (64, 128, 256), zero-padded.
#include <algorithm>

#include "lathe/backend/cuda/attention_common.cuh"

namespace lathe::cuda::attn {

namespace {

// Queries a block takes: 16 a warp.
template <int WARPS>
constexpr int kBlockRows = 16 * WARPS;

template <int DP, int BN, int WARPS>
constexpr size_t prefill_smem() {
  return (kBlockRows<WARPS> + 4 * BN) * (DP + 8) * 2;
}

// Grid (query tiles, hq, b), heaviest (last) query tile first. DP: head-dim
// class (64, 128, 256; d and dv <= DP, zero-padded); BN: keys a tile. Shared
// memory: the Q tile and two stages of K and V tiles, rows padded by 16 bytes
// so that ldmatrix reads are free of bank conflicts. Up to DP 128 a warp keeps
// its Q fragments in registers; at 256 it reloads them from shared memory.
template <typename T, int DP, int BN, int WARPS, int MIN_BLOCKS>
__global__ void __launch_bounds__(WARPS * 32, MIN_BLOCKS)
    attention_prefill_kernel(const AttnShape a) {
  constexpr int P = DP + 8, CH = DP / 8, BM = kBlockRows<WARPS>, NT = WARPS * 32;
  // Q fragments in registers where the register budget allows it.
  constexpr bool kQInRegisters = DP <= 128 && MIN_BLOCKS <= 2;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* qsm = reinterpret_cast<T*>(smem_raw);  // [BM][P]
  T* ksm = qsm + BM * P;                    // [2][BN][P]
  T* vsm = ksm + 2 * BN * P;                // [2][BN][P]

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q4 = lane % 4;
  const int tile = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int kh = h / a.group, m0 = tile * BM;
  const int nvalid = min(BM, a.tq - m0);
  const int tk = keys_present(a, b);
  const int pos_first = m0 + tk - a.tq, pos_last = pos_first + nvalid - 1;
  const int klo = key_lo(a, pos_first), khi = key_hi(a, pos_last, tk);
  // Keys every row of the tile attends (modulo the mask): tiles inside need no checks.
  const int safe_lo = key_lo(a, pos_last), safe_hi = key_hi(a, pos_first, tk);

  const T* qg = static_cast<const T*>(a.q) + b * a.qs[0] + h * a.qs[1];
  const T* kg = static_cast<const T*>(a.k) + b * a.ks[0] + kh * a.ks[1];
  const T* vg = static_cast<const T*>(a.v) + b * a.vs[0] + kh * a.vs[1];

  for (int i = tid; i < BM * CH; i += NT) {
    const int r = i / CH, c = i % CH;
    const bool ok = r < nvalid && c * 8 < a.d;
    cp_async16(qsm + r * P + c * 8, ok ? qg + (m0 + r) * a.qs[2] + c * 8 : qg, ok);
  }
  auto load_kv = [&](int j0, int stage) {
    T* kd = ksm + stage * BN * P;
    T* vd = vsm + stage * BN * P;
    for (int i = tid; i < BN * CH; i += NT) {
      const int r = i / CH, c = i % CH, j = j0 + r;
      const bool kok = j < tk && c * 8 < a.d, vok = j < tk && c * 8 < a.dv;
      cp_async16(kd + r * P + c * 8, kok ? kg + j * a.ks[2] + c * 8 : kg, kok);
      cp_async16(vd + r * P + c * 8, vok ? vg + j * a.vs[2] + c * 8 : vg, vok);
    }
  };

  const int jstart = klo / BN * BN;
  const int ntiles = khi >= klo ? khi / BN - klo / BN + 1 : 0;
  if (ntiles > 0) load_kv(jstart, 0);
  cp_async_commit();

  const int ksteps = (a.d + 15) / 16, vsteps = (a.dv + 15) / 16;
  float o[DP / 8][4];
#pragma unroll
  for (int i = 0; i < DP / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
  uint32_t qreg[kQInRegisters ? DP / 16 : 1][4];

  for (int it = 0; it < ntiles; ++it) {
    const int j0 = jstart + it * BN, stage = it & 1;
    cp_async_wait<0>();
    __syncthreads();
    if (it + 1 < ntiles) load_kv(j0 + BN, stage ^ 1);
    cp_async_commit();
    const T* kst = ksm + stage * BN * P;
    const T* vst = vsm + stage * BN * P;
    if (kQInRegisters && it == 0) {
#pragma unroll
      for (int kk = 0; kk < DP / 16; ++kk) {
        if (kk < ksteps)
          ldsm_x4(qreg[kk], qsm + (warp * 16 + lane % 16) * P + kk * 16 + lane / 16 * 8);
      }
    }

    // S = Q K^T for the warp's 16 rows.
    float s[BN / 8][4];
#pragma unroll
    for (int i = 0; i < BN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < DP / 16; ++kk) {
      if (kk < ksteps) {
        uint32_t qa[4];
        if constexpr (kQInRegisters) {
#pragma unroll
          for (int i = 0; i < 4; ++i) qa[i] = qreg[kk][i];
        } else {
          ldsm_x4(qa, qsm + (warp * 16 + lane % 16) * P + kk * 16 + lane / 16 * 8);
        }
#pragma unroll
        for (int np = 0; np < BN / 16; ++np) {
          uint32_t kb[4];
          ldsm_x4(kb,
                  kst + (np * 16 + lane % 8 + lane / 16 * 8) * P + kk * 16 + (lane / 8) % 2 * 8);
          mma16816<T>(s[2 * np], qa, kb[0], kb[1]);
          mma16816<T>(s[2 * np + 1], qa, kb[2], kb[3]);
        }
      }
    }
    const bool edge = a.has_mask || j0 < safe_lo || j0 + BN - 1 > safe_hi;
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[nt][e] *= a.scale_log2;
        if (edge) {
          const int t = m0 + warp * 16 + g + (e / 2) * 8;
          const int j = j0 + nt * 8 + q4 * 2 + (e & 1);
          const int pos = t + tk - a.tq;
          if (t >= a.tq || j >= tk || j < key_lo(a, pos) || j > key_hi(a, pos, tk)) {
            s[nt][e] = -INFINITY;
          } else if (a.has_mask) {
            s[nt][e] += mask_log2(a, b, h, t, j);
          }
        }
      }
    }

    // Online softmax over rows g and g + 8 (a row's scores are spread over a quad).
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * hr], s[nt][2 * hr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float nm = fmaxf(mrow[hr], mx);
      const float base = nm == -INFINITY ? 0.f : nm;
      const float c = exp2f(mrow[hr] - base);
      mrow[hr] = nm;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) {
        s[nt][2 * hr] = exp2f(s[nt][2 * hr] - base);
        s[nt][2 * hr + 1] = exp2f(s[nt][2 * hr + 1] - base);
        sum += s[nt][2 * hr] + s[nt][2 * hr + 1];
      }
      lrow[hr] = lrow[hr] * c + sum;
#pragma unroll
      for (int i = 0; i < DP / 8; ++i) {
        o[i][2 * hr] *= c;
        o[i][2 * hr + 1] *= c;
      }
    }

    // O += P V: the score accumulators are the A operand (16 keys per step).
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      const uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]),
                              pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                              pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < DP / 16; ++dp) {
        if (dp < vsteps) {
          uint32_t vb[4];
          ldsm_x4_trans(vb, vst + (kk * 16 + lane % 16) * P + dp * 16 + lane / 16 * 8);
          mma16816<T>(o[2 * dp], pa, vb[0], vb[1]);
          mma16816<T>(o[2 * dp + 1], pa, vb[2], vb[3]);
        }
      }
    }
  }
  cp_async_wait<0>();

  const float sink = a.has_sinks ? sink_log2(a, h) : 0.f;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float l = lrow[hr];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const float f = out_factor(mrow[hr], l, a.has_sinks, sink);
    const int t = m0 + warp * 16 + g + hr * 8;
    if (t >= a.tq) continue;
    T* y = static_cast<T*>(a.out) + ((static_cast<int64_t>(b) * a.hq + h) * a.tq + t) * a.dv;
#pragma unroll
    for (int i = 0; i < DP / 8; ++i) {
      const int col = i * 8 + q4 * 2;
      if (col < a.dv) {
        const uint32_t v = pack2<T>(o[i][2 * hr] * f, o[i][2 * hr + 1] * f);
        memcpy(y + col, &v, 4);
      }
    }
  }
}

template <typename T, int DP, int BN, int WARPS, int MIN_BLOCKS = 1>
void launch_class(const AttnShape& s) {
  constexpr size_t shared = prefill_smem<DP, BN, WARPS>();
  static const bool configured = [] {
    check(
        cudaFuncSetAttribute(attention_prefill_kernel<T, DP, BN, WARPS, MIN_BLOCKS>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
        "scaled_dot_product_attention");
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>(ceil_div(s.tq, kBlockRows<WARPS>)), s.hq, s.b);
  attention_prefill_kernel<T, DP, BN, WARPS, MIN_BLOCKS>
      <<<grid, WARPS * 32, shared, current_stream()>>>(s);
}

}  // namespace

// Tile shapes measured on an H200 (bench/RESULTS.md, attention_gpu): up to head
// dim 128, 64 x 32 tiles with three blocks an SM beat 64 x 64 and 128 x 64
// tiles at one or two blocks an SM; at 256 the register file allows one shape.
template <typename T>
void launch_prefill(const AttnShape& s) {
  const int dp = std::max(s.d, s.dv);
  if (dp <= 64) {
    launch_class<T, 64, 32, 4, 4>(s);
  } else if (dp <= 128) {
    launch_class<T, 128, 32, 4, 3>(s);
  } else {
    launch_class<T, 256, 32, 4>(s);
  }
}

template void launch_prefill<__half>(const AttnShape&);
template void launch_prefill<__nv_bfloat16>(const AttnShape&);

}  // namespace lathe::cuda::attn
