// Shared by the CUDA attention kernels (attention*.cu): the problem as the
// kernels see it, key limits, masks and sinks in the log2 domain, and the
// entry points of the decode and prefill paths.
#pragma once

#include "lathe/backend/cuda/kernel_utils.cuh"

namespace lathe::cuda::attn {

constexpr float kLog2e = 1.4426950408889634f;

// ---------------------------------------------------------------- shared --

// Everything the fast kernels need; element strides.
struct AttnShape {
  const void* q;
  const void* k;
  const void* v;
  void* out;
  int64_t qs[4], ks[4], vs[4], ms[4];
  int b, hq, tq, d, hkv, tk, dv, group;
  float scale_log2;
  bool limit_above;  // causal or windowed: no key after the query's position
  int window;
  bool has_mask, has_sinks;
  const void* mask;
  Dtype::Val mask_dtype;
  const void* sinks;
  int64_t sinks_stride;
  Dtype::Val sinks_dtype;
  const int32_t* kv_len;  // null, or the keys present per batch entry (element stride below)
  int64_t kv_len_stride;
};

// The keys present for batch entry b: all tk, or its kv_length clamped to [0, tk].
// Queries align to the end of them.
__device__ __forceinline__ int keys_present(const AttnShape& a, int b) {
  return a.kv_len ? min(max(a.kv_len[b * a.kv_len_stride], 0), a.tk) : a.tk;
}

// Keys [key_lo, key_hi] that the query at position pos may attend, of tk present.
__device__ __forceinline__ int key_lo(const AttnShape& a, int pos) {
  return a.window > 0 ? max(0, pos - a.window + 1) : 0;
}
__device__ __forceinline__ int key_hi(const AttnShape& a, int pos, int tk) {
  return a.limit_above ? min(pos, tk - 1) : tk - 1;
}

// The mask at (b, h, t, j) as an additive log2-domain value (bool false: -inf).
__device__ inline float mask_log2(const AttnShape& a, int b, int h, int t, int j) {
  const int64_t off = b * a.ms[0] + h * a.ms[1] + t * a.ms[2] + j * a.ms[3];
  switch (a.mask_dtype) {
    case Dtype::Val::bool_: return static_cast<const bool*>(a.mask)[off] ? 0.f : -INFINITY;
    case Dtype::Val::float16: return __half2float(static_cast<const __half*>(a.mask)[off]) * kLog2e;
    case Dtype::Val::bfloat16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(a.mask)[off]) * kLog2e;
    case Dtype::Val::float32: return static_cast<const float*>(a.mask)[off] * kLog2e;
    default: return static_cast<float>(load_double(a.mask, off, a.mask_dtype)) * kLog2e;
  }
}

__device__ __forceinline__ float sink_log2(const AttnShape& a, int h) {
  return static_cast<float>(load_double(a.sinks, h * a.sinks_stride, a.sinks_dtype)) * kLog2e;
}

// The factor that turns a row's unnormalized sums into its output: the row's
// max m and sum l of exp2(score - m), plus the sink's share of the denominator.
// A row with nothing to attend gets zeros.
__device__ __forceinline__ float out_factor(float m, float l, bool has_sink, float sink) {
  const float mf = has_sink ? fmaxf(m, sink) : m;
  if (mf == -INFINITY) return 0.f;
  const float c = exp2f(m - mf);
  const float denom = l * c + (has_sink ? exp2f(sink - mf) : 0.f);
  return denom > 0.f ? c / denom : 0.f;
}

__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// 16-byte global-to-shared copies that bypass registers (cp.async, sm_80+).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool ok) {
  const uint32_t d = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  const int n = ok ? 16 : 0;  // 0: fill with zeros
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most N of this thread's committed copy groups are pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Tensor-core fragments (mma.sync m16n8k16, ldmatrix), bf16 or f16 operands.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s)
               : "memory");
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* p) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s)
               : "memory");
}

// c += a (16x16, row) * b (16x8, col), f32 accumulators.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Two floats as a T pair in one register (lo in the low half).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  uint32_t r;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    const __nv_bfloat162 x = __floats2bfloat162_rn(lo, hi);
    memcpy(&r, &x, 4);
  } else {
    const __half2 x = __floats2half2_rn(lo, hi);
    memcpy(&r, &x, 4);
  }
  return r;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The decode path takes Tq <= kDecodeMaxQueries.
constexpr int kDecodeMaxQueries = 4;
constexpr int kMinKeysPerSplit = 64;

// A split-KV decode launch: the block grid is (row chunks, splits, b * hkv).
struct DecodeArgs {
  AttnShape a;
  int lanes;               // lanes that share one key row: 8 * lanes >= max(d, dv)
  int rows;                // query rows of a kv head: group * tq
  int key_begin, key_end;  // keys some row may attend
  int chunk, splits;       // keys of a split, splits of [key_begin, key_end)
  float* part;             // [b * hq * tq][splits][dv] unnormalized sums
  float* part_ml;          // [b * hq * tq][splits][2]: max, sum
};

struct DecodePlan {
  DecodeArgs args;
  int row_chunks;
  std::shared_ptr<Buffer> scratch;  // holds part and part_ml
};

// The launch of s: the key range, the splits (enough blocks to fill the GPU
// once at blocks_per_sm, none under kMinKeysPerSplit keys, a multiple of
// keys_per_step each) and their scratch.
DecodePlan plan_decode(const AttnShape& s, int first_key, int rows_per_block, int64_t keys_per_step,
                       int blocks_per_sm);
// Merges the splits of p into the output (nothing when there is one split).
template <typename T>
void launch_combine(const DecodeArgs& p);
// Decode on the tensor cores (attention_decode_mma.cu); T is __half or __nv_bfloat16.
template <typename T>
void launch_decode_mma(const AttnShape& s, int first_key);

// Split-KV decode (attention_decode.cu); T is float, __half or __nv_bfloat16.
// first_key: the first key any query row may attend.
template <typename T>
void launch_decode(const AttnShape& s, int first_key);
// Tensor-core prefill (attention_prefill.cu); T is __half or __nv_bfloat16.
template <typename T>
void launch_prefill(const AttnShape& s);

}  // namespace lathe::cuda::attn
