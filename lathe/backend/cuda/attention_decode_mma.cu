// Split-KV decode attention on the tensor cores (bf16, f16). The query rows of
// one kv head (GQA group x Tq, up to 16 a block, zero-padded to 16) are the
// M side of mma.sync m16n8k16; each of the block's four warps walks its own
// 16-key tiles of the split's key range, streamed through a private
// three-stage cp.async ring, with an online softmax in f32. The warps' results
// merge in shared memory and leave the split's partial (max, sum, output) for
// the combine kernel, as the SIMT decode kernel does. Against that kernel this
// spends a few tensor instructions per 16 keys instead of hundreds of FMAs and
// shuffles, so that decode is bound by reading K and V.
#include <algorithm>

#include "lathe/backend/cuda/attention_common.cuh"

namespace lathe::cuda::attn {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = 16;  // query rows a block (the mma M)
constexpr int kKeys = 16;  // keys a warp takes per step
constexpr int kStages = 3;

template <int DP>
struct MmaDecodeConfig {
  static constexpr int kPitch = DP + 8;  // padded row: ldmatrix free of bank conflicts
  static constexpr size_t kQ = size_t(kRows) * kPitch * 2;
  static constexpr size_t kTile = size_t(kKeys) * kPitch * 2;
  static constexpr size_t kWarpRing = size_t(kStages) * 2 * kTile;  // K and V
  static constexpr size_t kRing = kWarps * kWarpRing;
  static constexpr size_t kMerge =
      (size_t(kWarps) * kRows * DP + 2 * kWarps * kRows + 2 * kRows) * 4;
  static constexpr size_t kSmem = kQ + (kRing > kMerge ? kRing : kMerge);
};

// Grid (row chunks of 16, splits, b * hkv). DP: head-dim class (64, 128, 256).
template <typename T, int DP>
__global__ void __launch_bounds__(kThreads) attention_decode_mma_kernel(const DecodeArgs p) {
  using Cfg = MmaDecodeConfig<DP>;
  constexpr int P = Cfg::kPitch, CH = DP / 8;
  constexpr bool kQInRegisters = DP <= 128;
  const AttnShape& a = p.a;
  extern __shared__ __align__(16) unsigned char dsm[];
  T* qsm = reinterpret_cast<T*>(dsm);  // [16][P]
  unsigned char* work = dsm + Cfg::kQ;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q4 = lane % 4;
  const int r0 = blockIdx.x * kRows, split = blockIdx.y;
  const int b = blockIdx.z / a.hkv, kh = blockIdx.z % a.hkv;
  const int nrows = min(kRows, p.rows - r0);
  const int tk = keys_present(a, b);
  const int kb = p.key_begin + split * p.chunk;
  const int ke = min(min(p.key_end, tk), kb + p.chunk);
  const int tiles = ke > kb ? (ke - kb + kKeys - 1) / kKeys : 0;
  const int my_tiles = tiles > warp ? (tiles - warp + kWarps - 1) / kWarps : 0;

  T* kring = reinterpret_cast<T*>(work + warp * Cfg::kWarpRing);  // [stage][16][P]
  T* vring = kring + kStages * kKeys * P;
  const T* kg = static_cast<const T*>(a.k) + b * a.ks[0] + kh * a.ks[1];
  const T* vg = static_cast<const T*>(a.v) + b * a.vs[0] + kh * a.vs[1];
  // Starts the copies of the warp's i-th tile (keys kb + (warp + 4 i) * 16 on);
  // an empty group past its last tile keeps the group count uniform.
  auto issue = [&](int i) {
    if (i < my_tiles) {
      const int stage = i % kStages, j0 = kb + (warp + kWarps * i) * kKeys;
      T* kd = kring + stage * kKeys * P;
      T* vd = vring + stage * kKeys * P;
#pragma unroll
      for (int x = lane; x < kKeys * CH; x += 32) {
        const int r = x / CH, c = x % CH, j = j0 + r;
        const bool kok = j < ke && c * 8 < a.d, vok = j < ke && c * 8 < a.dv;
        cp_async16(kd + r * P + c * 8, kok ? kg + j * a.ks[2] + c * 8 : kg, kok);
        cp_async16(vd + r * P + c * 8, vok ? vg + j * a.vs[2] + c * 8 : vg, vok);
      }
    }
    cp_async_commit();
  };
#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) issue(i);

  // The query rows (any strides), zero-padded to 16 x DP.
  for (int i = tid; i < kRows * DP; i += kThreads) {
    const int r = i / DP, c = i % DP;
    float x = 0.f;
    if (r < nrows && c < a.d) {
      const int rg = r0 + r, h = kh * a.group + rg / a.tq, t = rg % a.tq;
      x = static_cast<float>(load_c(
          static_cast<const T*>(a.q)[b * a.qs[0] + h * a.qs[1] + t * a.qs[2] + c * a.qs[3]]));
    }
    qsm[r * P + c] = store_c<T>(x);
  }
  // Key limits of this thread's rows g and g + 8, and the keys all rows attend.
  int lo[2] = {1, 1}, hi[2] = {0, 0}, all_lo = 0, all_hi = tk - 1;
  for (int r = 0; r < nrows; ++r) {
    const int rg = r0 + r, pos = rg % a.tq + tk - a.tq;
    const int l = key_lo(a, pos), u = key_hi(a, pos, tk);
    all_lo = max(all_lo, l);
    all_hi = min(all_hi, u);
    if (r == g) lo[0] = l, hi[0] = u;
    if (r == g + 8) lo[1] = l, hi[1] = u;
  }
  __syncthreads();

  const int ksteps = (a.d + 15) / 16, vsteps = (a.dv + 15) / 16;
  uint32_t qreg[kQInRegisters ? DP / 16 : 1][4];
  if constexpr (kQInRegisters) {
#pragma unroll
    for (int kk = 0; kk < DP / 16; ++kk) {
      if (kk < ksteps) ldsm_x4(qreg[kk], qsm + (lane % 16) * P + kk * 16 + lane / 16 * 8);
    }
  }
  float o[DP / 8][4];
#pragma unroll
  for (int i = 0; i < DP / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};

  for (int i = 0; i < my_tiles; ++i) {
    issue(i + kStages - 1);
    cp_async_wait<kStages - 1>();
    __syncwarp();  // every lane's copies of tile i are visible to the warp
    const int stage = i % kStages, j0 = kb + (warp + kWarps * i) * kKeys;
    const T* kst = kring + stage * kKeys * P;
    const T* vst = vring + stage * kKeys * P;

    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int kk = 0; kk < DP / 16; ++kk) {
      if (kk < ksteps) {
        uint32_t qa[4];
        if constexpr (kQInRegisters) {
#pragma unroll
          for (int x = 0; x < 4; ++x) qa[x] = qreg[kk][x];
        } else {
          ldsm_x4(qa, qsm + (lane % 16) * P + kk * 16 + lane / 16 * 8);
        }
        uint32_t kf[4];
        ldsm_x4(kf, kst + (lane % 8 + lane / 16 * 8) * P + kk * 16 + (lane / 8) % 2 * 8);
        mma16816<T>(s[0], qa, kf[0], kf[1]);
        mma16816<T>(s[1], qa, kf[2], kf[3]);
      }
    }
    const bool inside = !a.has_mask && j0 >= all_lo && j0 + kKeys - 1 <= min(all_hi, ke - 1);
#pragma unroll
    for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[nt][e] *= a.scale_log2;
        if (!inside) {
          const int hr = e / 2, j = j0 + nt * 8 + q4 * 2 + (e & 1);
          if (j >= ke || j < lo[hr] || j > hi[hr]) {
            s[nt][e] = -INFINITY;
          } else if (a.has_mask) {
            const int rg = r0 + g + hr * 8;
            s[nt][e] += mask_log2(a, b, kh * a.group + rg / a.tq, rg % a.tq, j);
          }
        }
      }
    }
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float mx =
          fmaxf(fmaxf(s[0][2 * hr], s[0][2 * hr + 1]), fmaxf(s[1][2 * hr], s[1][2 * hr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float nm = fmaxf(mrow[hr], mx);
      const float base = nm == -INFINITY ? 0.f : nm;
      const float c = exp2f(mrow[hr] - base);
      mrow[hr] = nm;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        s[nt][2 * hr] = exp2f(s[nt][2 * hr] - base);
        s[nt][2 * hr + 1] = exp2f(s[nt][2 * hr + 1] - base);
        sum += s[nt][2 * hr] + s[nt][2 * hr + 1];
      }
      lrow[hr] = lrow[hr] * c + sum;
      if (c != 1.f) {
#pragma unroll
        for (int x = 0; x < DP / 8; ++x) {
          o[x][2 * hr] *= c;
          o[x][2 * hr + 1] *= c;
        }
      }
    }
    const uint32_t pa[4] = {pack2<T>(s[0][0], s[0][1]), pack2<T>(s[0][2], s[0][3]),
                            pack2<T>(s[1][0], s[1][1]), pack2<T>(s[1][2], s[1][3])};
#pragma unroll
    for (int dp = 0; dp < DP / 16; ++dp) {
      if (dp < vsteps) {
        uint32_t vb[4];
        ldsm_x4_trans(vb, vst + (lane % 16) * P + dp * 16 + lane / 16 * 8);
        mma16816<T>(o[2 * dp], pa, vb[0], vb[1]);
        mma16816<T>(o[2 * dp + 1], pa, vb[2], vb[3]);
      }
    }
    __syncwarp();  // the stage is read before a later issue refills it
  }
  cp_async_wait<0>();
  __syncthreads();  // the rings become the merge buffer

  // Merge the warps: rescale each to the block's row max, then sum.
  float* red_o = reinterpret_cast<float*>(work);  // [warps][16][DP]
  float* red_m = red_o + kWarps * kRows * DP;     // [warps][16]
  float* red_l = red_m + kWarps * kRows;          // [warps][16]
  float* tot = red_l + kWarps * kRows;            // [16][2]: max, sum
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float l = lrow[hr];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    if (q4 == 0) {
      red_m[warp * kRows + g + 8 * hr] = mrow[hr];
      red_l[warp * kRows + g + 8 * hr] = l;
    }
  }
  __syncthreads();
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int row = g + 8 * hr;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, red_m[w * kRows + row]);
    const float c = mrow[hr] == -INFINITY ? 0.f : exp2f(mrow[hr] - mx);
    float* dst = red_o + (warp * kRows + row) * DP;
#pragma unroll
    for (int x = 0; x < DP / 8; ++x) {
      const int col = x * 8 + q4 * 2;
      *reinterpret_cast<float2*>(dst + col) = make_float2(o[x][2 * hr] * c, o[x][2 * hr + 1] * c);
    }
    if (warp == 0 && q4 == 0) {
      float sum = 0.f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const float mw = red_m[w * kRows + row];
        if (mw != -INFINITY) sum += red_l[w * kRows + row] * exp2f(mw - mx);
      }
      tot[row * 2] = mx;
      tot[row * 2 + 1] = sum;
    }
  }
  __syncthreads();
  for (int idx = tid; idx < nrows * a.dv; idx += kThreads) {
    const int r = idx / a.dv, i = idx % a.dv;
    float x = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) x += red_o[(w * kRows + r) * DP + i];
    const float mx = tot[r * 2], l = tot[r * 2 + 1];
    const int rg = r0 + r, t = rg % a.tq, h = kh * a.group + rg / a.tq;
    const int64_t row = (static_cast<int64_t>(b) * a.hq + h) * a.tq + t;
    if (p.splits == 1) {
      const float f = out_factor(mx, l, a.has_sinks, a.has_sinks ? sink_log2(a, h) : 0.f);
      static_cast<T*>(a.out)[row * a.dv + i] = store_c<T>(x * f);
    } else {
      p.part[(row * p.splits + split) * a.dv + i] = x;
      if (i == 0) {
        p.part_ml[(row * p.splits + split) * 2] = mx;
        p.part_ml[(row * p.splits + split) * 2 + 1] = l;
      }
    }
  }
}

// Blocks resident on one SM (read once per instantiation, which also raises
// its shared-memory limit).
template <typename T, int DP>
int blocks_per_sm() {
  static const int n = [] {
    constexpr size_t smem = MmaDecodeConfig<DP>::kSmem;
    check(cudaFuncSetAttribute(attention_decode_mma_kernel<T, DP>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
          "scaled_dot_product_attention");
    int blocks = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, attention_decode_mma_kernel<T, DP>,
                                                        kThreads, smem),
          "scaled_dot_product_attention");
    return std::max(blocks, 1);
  }();
  return n;
}

template <typename T, int DP>
void launch_class(const AttnShape& s, int first_key) {
  DecodePlan plan = plan_decode(s, first_key, kRows, kWarps * kKeys, blocks_per_sm<T, DP>());
  const dim3 grid(plan.row_chunks, plan.args.splits, s.b * s.hkv);
  attention_decode_mma_kernel<T, DP>
      <<<grid, kThreads, MmaDecodeConfig<DP>::kSmem, current_stream()>>>(plan.args);
  launch_combine<T>(plan.args);
}

}  // namespace

template <typename T>
void launch_decode_mma(const AttnShape& s, int first_key) {
  const int dp = std::max(s.d, s.dv);
  if (dp <= 64) {
    launch_class<T, 64>(s, first_key);
  } else if (dp <= 128) {
    launch_class<T, 128>(s, first_key);
  } else {
    launch_class<T, 256>(s, first_key);
  }
}

template void launch_decode_mma<__half>(const AttnShape&, int);
template void launch_decode_mma<__nv_bfloat16>(const AttnShape&, int);

}  // namespace lathe::cuda::attn
