// scaled_dot_product_attention on CUDA: picks a kernel by shape and layout.
//  - decode (Tq <= 4; bf16, f16, f32; K/V rows 16-byte readable): split-KV,
//    on the tensor cores for bf16/f16 (attention_decode_mma.cu), SIMT for f32
//    (attention_decode.cu).
//  - prefill (bf16, f16; q, K, V rows 16-byte readable; head dims multiples of
//    8 up to 256): flash-attention tiles on the tensor cores, attention_prefill.cu.
//  - generic (here): one block per query row with scalar loads; any dtype and
//    layout (float64, f32 prefill, strides the vector paths cannot take).
#include <algorithm>
#include <atomic>
#include <limits>

#include "lathe/backend/cuda/attention.h"
#include "lathe/backend/cuda/attention_common.cuh"
#include "lathe/primitives/fast.h"

namespace lathe {

using detail::Node;

namespace cuda {

namespace {

std::atomic<AttentionKernels> selected_kernels{AttentionKernels::fast};
std::atomic<uint64_t> decode_launches{0}, prefill_launches{0}, generic_launches{0};

using attn::AttnShape;

struct AttnArgs {
  int64_t b, hq, tq, d, hkv, tk, dv, group;
  int64_t qs[4], ks[4], vs[4], ms[4];
  float scale;
  bool causal, has_mask, has_sinks;
  int window;
  const void* mask;
  Dtype::Val mask_dtype;
  const void* sinks;
  int64_t sinks_stride;
  Dtype::Val sinks_dtype;
  const int32_t* kv_len;  // null, or keys present per batch entry
  int64_t kv_len_stride;
};

template <typename T>
using acc_of = std::conditional_t<std::is_same_v<T, double>, double, float>;

// One block per (b, h, t). Keys are taken blockDim at a time: each thread
// scores one key, the block folds the chunk into the running softmax.
template <typename T>
__global__ void attention_generic_kernel(const T* q, const T* k, const T* v, T* out, AttnArgs a) {
  using A = acc_of<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  A* qr = reinterpret_cast<A*>(smem);  // d
  A* acc = qr + a.d;                   // dv
  A* w = acc + a.dv;                   // blockDim
  A* red = w + blockDim.x;             // blockDim
  const A neg_inf = -INFINITY;
  const int64_t rows = a.b * a.hq * a.tq;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t t = row % a.tq, h = (row / a.tq) % a.hq, b = row / (a.tq * a.hq);
    const int64_t tk =
        a.kv_len ? min(max(int64_t(a.kv_len[b * a.kv_len_stride]), int64_t(0)), a.tk) : a.tk;
    const int64_t kh = h / a.group, pos = t + tk - a.tq;
    const int64_t lo = a.window > 0 ? max(int64_t(0), pos - a.window + 1) : 0;
    const int64_t hi = (a.causal || a.window > 0) ? min(pos, tk - 1) : tk - 1;
    const T* qp = q + b * a.qs[0] + h * a.qs[1] + t * a.qs[2];
    const T* kp = k + b * a.ks[0] + kh * a.ks[1];
    const T* vp = v + b * a.vs[0] + kh * a.vs[1];
    for (int64_t i = threadIdx.x; i < a.d; i += blockDim.x) {
      qr[i] = static_cast<A>(load_c(qp[i * a.qs[3]])) * static_cast<A>(a.scale);
    }
    for (int64_t i = threadIdx.x; i < a.dv; i += blockDim.x) acc[i] = 0;
    __syncthreads();
    A run_max = neg_inf, run_sum = 0;
    for (int64_t j0 = lo; j0 <= hi; j0 += blockDim.x) {
      const int64_t j = j0 + threadIdx.x;
      A s = neg_inf;
      if (j <= hi) {
        s = 0;
        const T* kr = kp + j * a.ks[2];
        for (int64_t i = 0; i < a.d; ++i) s += qr[i] * static_cast<A>(load_c(kr[i * a.ks[3]]));
        if (a.has_mask) {
          const int64_t mo = b * a.ms[0] + h * a.ms[1] + t * a.ms[2] + j * a.ms[3];
          if (a.mask_dtype == Dtype::Val::bool_) {
            if (!static_cast<const bool*>(a.mask)[mo]) s = neg_inf;
          } else {
            s += static_cast<A>(load_double(a.mask, mo, a.mask_dtype));
          }
        }
      }
      const A block_max = block_reduce(s, red, [](A x, A y) { return x > y ? x : y; });
      if (block_max == neg_inf) continue;  // uniform across the block
      const A new_max = run_max > block_max ? run_max : block_max;
      const A c = exp(run_max - new_max);
      const A wj = s == neg_inf ? A(0) : exp(s - new_max);
      w[threadIdx.x] = wj;
      const A chunk_sum = block_reduce(wj, red, [](A x, A y) { return x + y; });
      run_sum = run_sum * c + chunk_sum;
      run_max = new_max;
      const int64_t jn = min(int64_t(blockDim.x), hi + 1 - j0);
      for (int64_t i = threadIdx.x; i < a.dv; i += blockDim.x) {
        A sum = acc[i] * c;
        for (int64_t jj = 0; jj < jn; ++jj) {
          sum += w[jj] * static_cast<A>(load_c(vp[(j0 + jj) * a.vs[2] + i * a.vs[3]]));
        }
        acc[i] = sum;
      }
      __syncthreads();
    }
    A denom = run_sum, c = 1;
    if (a.has_sinks) {
      const A s = static_cast<A>(load_double(a.sinks, h * a.sinks_stride, a.sinks_dtype));
      const A m = run_max > s ? run_max : s;
      c = exp(run_max - m);
      denom = denom * c + exp(s - m);
    }
    const A f = denom > 0 ? c / denom : A(0);
    T* y = out + row * a.dv;
    for (int64_t i = threadIdx.x; i < a.dv; i += blockDim.x) y[i] = store_c<T>(acc[i] * f);
    __syncthreads();
  }
}

template <typename F>
void dispatch_float(Dtype d, const char* op, F&& f) {
  if (d == float32) return f(float{});
  if (d == float16) return f(__half{});
  if (d == bfloat16) return f(__nv_bfloat16{});
  if (d == float64) return f(double{});
  throw Error(std::string("[") + op + "] not defined for " + d.name());
}

// Rows of n (its last axis) can be read in 16-byte vectors: unit last stride,
// every row start 16-byte aligned.
bool rows_vectorizable(const Node& n) {
  const int64_t bytes = static_cast<int64_t>(n.dtype.size());
  if (n.shape[3] > 1 && n.strides[3] != 1) return false;
  if (reinterpret_cast<uintptr_t>(n.raw()) % 16 != 0) return false;
  for (int i = 0; i < 3; ++i) {
    if (n.shape[i] > 1 && (n.strides[i] * bytes) % 16 != 0) return false;
  }
  return true;
}

void launch_generic(const NodeList& in, Node& out, const Attention::Params& pr,
                    const AttnShape& s) {
  const Node& q = *in[0];
  AttnArgs a{};
  a.b = s.b;
  a.hq = s.hq;
  a.tq = s.tq;
  a.d = s.d;
  a.hkv = s.hkv;
  a.tk = s.tk;
  a.dv = s.dv;
  a.group = s.group;
  for (int i = 0; i < 4; ++i) {
    a.qs[i] = s.qs[i];
    a.ks[i] = s.ks[i];
    a.vs[i] = s.vs[i];
    a.ms[i] = s.ms[i];
  }
  a.scale = pr.scale;
  a.causal = pr.causal;
  a.window = pr.window;
  a.has_mask = pr.has_mask;
  a.has_sinks = pr.has_sinks;
  a.mask = s.mask;
  a.mask_dtype = s.mask_dtype;
  a.sinks = s.sinks;
  a.sinks_stride = s.sinks_stride;
  a.sinks_dtype = s.sinks_dtype;
  a.kv_len = s.kv_len;
  a.kv_len_stride = s.kv_len_stride;
  const unsigned threads = 128;
  const int64_t rows = a.b * a.hq * a.tq;
  const unsigned blocks =
      static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(rows, 1), 1 << 30));
  dispatch_float(q.dtype, "scaled_dot_product_attention", [&](auto t) {
    using T = decltype(t);
    using A = acc_of<T>;
    const size_t shared = (a.d + a.dv + 2 * threads) * sizeof(A);
    if (shared > 48 * 1024) {
      throw Error("[scaled_dot_product_attention] head dimensions " + std::to_string(a.d) + "/" +
                  std::to_string(a.dv) + " are too large for the cuda kernel");
    }
    attention_generic_kernel<T><<<blocks, threads, shared, current_stream()>>>(
        static_cast<const T*>(s.q), static_cast<const T*>(s.k), static_cast<const T*>(s.v),
        static_cast<T*>(s.out), a);
  });
}

}  // namespace

void set_attention_kernels(AttentionKernels kernels) { selected_kernels.store(kernels); }
AttentionKernels attention_kernels() { return selected_kernels.load(); }

AttentionLaunches attention_launches() {
  return {decode_launches.load(), prefill_launches.load(), generic_launches.load()};
}

}  // namespace cuda

void Attention::eval_cuda(const NodeList& in, Node& out) {
  const Node& q = *in[0];
  const Node& k = *in[1];
  const Node& v = *in[2];
  out.allocate();
  if (out.size() == 0) return;
  cuda::attn::AttnShape s{};
  s.q = q.raw();
  s.k = k.raw();
  s.v = v.raw();
  s.out = out.raw();
  for (int i = 0; i < 4; ++i) {
    s.qs[i] = q.strides[i];
    s.ks[i] = k.strides[i];
    s.vs[i] = v.strides[i];
  }
  s.b = static_cast<int>(q.shape[0]);
  s.hq = static_cast<int>(q.shape[1]);
  s.tq = static_cast<int>(q.shape[2]);
  s.d = static_cast<int>(q.shape[3]);
  s.hkv = static_cast<int>(k.shape[1]);
  s.tk = static_cast<int>(k.shape[2]);
  s.dv = static_cast<int>(v.shape[3]);
  s.group = s.hq / s.hkv;
  s.scale_log2 = p_.scale * cuda::attn::kLog2e;
  s.limit_above = p_.causal || p_.window > 0;
  s.window = p_.window;
  s.has_mask = p_.has_mask;
  s.has_sinks = p_.has_sinks;
  if (p_.has_mask) {
    const Node& m = *in[3];
    Strides ms = broadcast_strides(m, Shape{q.shape[0], q.shape[1], q.shape[2], k.shape[2]});
    for (int i = 0; i < 4; ++i) s.ms[i] = ms[i];
    s.mask = m.raw();
    s.mask_dtype = m.dtype.val;
  }
  if (p_.has_sinks) {
    const Node& sk = *in[p_.has_mask ? 4 : 3];
    s.sinks = sk.raw();
    s.sinks_stride = sk.shape.empty() || sk.size() == 1 ? 0 : sk.strides.back();
    s.sinks_dtype = sk.dtype.val;
  }
  if (p_.has_kv_length) {
    const Node& n = *in[3 + p_.has_mask + p_.has_sinks];
    s.kv_len = n.data<int32_t>();
    s.kv_len_stride = n.strides[0];
  }
  for (int64_t dim : {q.shape[0], q.shape[1], q.shape[2], q.shape[3], k.shape[2], v.shape[3]}) {
    if (dim > std::numeric_limits<int>::max() / 2) {
      throw Error("[scaled_dot_product_attention] dimension " + std::to_string(dim) +
                  " is too large for the cuda kernels");
    }
  }

  const bool fast = cuda::attention_kernels() == cuda::AttentionKernels::fast;
  const bool half = q.dtype == float16 || q.dtype == bfloat16;
  const bool dims_ok = s.d % 8 == 0 && s.dv % 8 == 0 && std::max(s.d, s.dv) <= 256;
  const bool kv_vec = dims_ok && cuda::rows_vectorizable(k) && cuda::rows_vectorizable(v);
  if (fast && (half || q.dtype == float32) && s.tq <= cuda::attn::kDecodeMaxQueries && kv_vec) {
    // The first key any query row may attend (with lengths as data: known on the device only).
    const int begin =
        p_.window > 0 && !p_.has_kv_length ? std::max(0, s.tk - s.tq - p_.window + 1) : 0;
    cuda::dispatch_float(q.dtype, name(), [&](auto t) {
      using T = decltype(t);
      if constexpr (!std::is_same_v<T, double>) cuda::attn::launch_decode<T>(s, begin);
    });
    ++cuda::decode_launches;
  } else if (fast && half && kv_vec && cuda::rows_vectorizable(q)) {
    if (q.dtype == float16) {
      cuda::attn::launch_prefill<__half>(s);
    } else {
      cuda::attn::launch_prefill<__nv_bfloat16>(s);
    }
    ++cuda::prefill_launches;
  } else {
    cuda::launch_generic(in, out, p_, s);
    ++cuda::generic_launches;
  }
}

}  // namespace lathe
