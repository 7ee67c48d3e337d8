// CUDA kernels of the fused norms and rope: rms_norm and layer_norm (one
// block per row), group_norm (one block per (batch, group)) and rope (one
// thread per output element, angles in double as on the CPU). Accumulation is
// in float (double for float64). Parameters of any dtype are read through
// load_double. Attention lives in attention.cu.

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/fast.h"

namespace lathe {

using detail::Node;

namespace cuda {

namespace {

template <typename T>
using acc_of = std::conditional_t<std::is_same_v<T, double>, double, float>;

// A small parameter array (weights, offsets, freqs, sinks) read by index.
struct Param {
  const void* ptr = nullptr;
  int64_t stride = 0;
  Dtype::Val dtype = Dtype::Val::float32;
  __device__ double at(int64_t i) const { return load_double(ptr, i * stride, dtype); }
};

Param param_of(const Node& n) {
  Param p;
  p.ptr = n.raw();
  p.stride = n.shape.empty() || n.size() == 1 ? 0 : n.strides.back();
  p.dtype = n.dtype.val;
  return p;
}

// res (null for none) is added after the norm is rounded to T: rows.offsets gives x's row
// offset first and res's second, res_stride its last-axis stride.
// A weight per row of the last two axes: row r reads weight row r % w_heads (w_row_stride
// elements apart; 1 head for a plain [n] weight).
template <typename T>
__global__ void rms_norm_kernel(const T* x, T* out, Layout<2> rows, int64_t count, int64_t n,
                                int64_t stride, Param w, bool has_weight, int64_t w_heads,
                                int64_t w_row_stride, float eps, const T* res, int64_t res_stride) {
  using A = acc_of<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  A* sh = reinterpret_cast<A*>(smem);
  for (int64_t r = blockIdx.x; r < count; r += gridDim.x) {
    int64_t base[2];
    rows.offsets(r, base);
    A ss = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      A v = static_cast<A>(load_c(x[base[0] + i * stride]));
      ss += v * v;
    }
    ss = block_reduce(ss, sh, [](A a, A b) { return a + b; });
    const A inv = A(1) / sqrt(ss / static_cast<A>(n) + static_cast<A>(eps));
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      A v = static_cast<A>(load_c(x[base[0] + i * stride]));
      A wi = has_weight ? static_cast<A>(load_double(w.ptr, (r % w_heads) * w_row_stride +
                                                                   i * w.stride,
                                                         w.dtype))
                        : A(1);
      if (res) {
        const A normed = static_cast<A>(load_c(store_c<T>(v * inv * wi)));
        out[r * n + i] = store_c<T>(static_cast<A>(load_c(res[base[1] + i * res_stride])) + normed);
      } else {
        out[r * n + i] = store_c<T>(v * inv * wi);
      }
    }
  }
}

template <typename T>
__global__ void layer_norm_kernel(const T* x, T* out, Layout<1> rows, int64_t count, int64_t n,
                                  int64_t stride, Param w, bool has_weight, Param b, bool has_bias,
                                  float eps) {
  using A = acc_of<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  A* sh = reinterpret_cast<A*>(smem);
  auto add = [](A p, A q) { return p + q; };
  for (int64_t r = blockIdx.x; r < count; r += gridDim.x) {
    int64_t base[1];
    rows.offsets(r, base);
    A s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      s += static_cast<A>(load_c(x[base[0] + i * stride]));
    }
    const A mean = block_reduce(s, sh, add) / static_cast<A>(n);
    A sq = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      A d = static_cast<A>(load_c(x[base[0] + i * stride])) - mean;
      sq += d * d;
    }
    const A var = block_reduce(sq, sh, add) / static_cast<A>(n);
    const A inv = A(1) / sqrt(var + static_cast<A>(eps));
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      A v = static_cast<A>(load_c(x[base[0] + i * stride]));
      A wi = has_weight ? static_cast<A>(w.at(i)) : A(1);
      A bi = has_bias ? static_cast<A>(b.at(i)) : A(0);
      out[r * n + i] = store_c<T>((v - mean) * inv * wi + bi);
    }
  }
}

// One block per (batch, group); statistics accumulate in double as on the CPU.
template <typename T>
__global__ void group_norm_kernel(const T* x, T* out, Layout<1> pos, int64_t batch, int groups,
                                  int64_t positions, int64_t c, int64_t xs0, int64_t cs, Param w,
                                  bool has_weight, Param b, bool has_bias, float eps) {
  using A = acc_of<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  double* sh = reinterpret_cast<double*>(smem);
  const int64_t per = c / groups, count = positions * per;
  auto add = [](double p, double q) { return p + q; };
  for (int64_t bg = blockIdx.x; bg < batch * groups; bg += gridDim.x) {
    const int64_t bi = bg / groups, g = bg % groups;
    auto at = [&](int64_t e, int64_t& ch, int64_t& p) {
      p = e / per;
      ch = g * per + e % per;
      int64_t off[1];
      pos.offsets(p, off);
      return static_cast<A>(load_c(x[bi * xs0 + off[0] + ch * cs]));
    };
    double s = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      int64_t ch, p;
      s += at(e, ch, p);
    }
    const double mean = block_reduce(s, sh, add) / static_cast<double>(count);
    double sq = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      int64_t ch, p;
      const A d = at(e, ch, p) - static_cast<A>(mean);
      sq += d * d;
    }
    const double r = 1.0 / sqrt(block_reduce(sq, sh, add) / static_cast<double>(count) + eps);
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
      int64_t ch, p;
      const A v = at(e, ch, p);
      const double wc = has_weight ? w.at(ch) : 1.0, bc = has_bias ? b.at(ch) : 0.0;
      const A scale = static_cast<A>(r * wc), shift = static_cast<A>(bc - mean * r * wc);
      out[(bi * positions + p) * c + ch] = store_c<T>(v * scale + shift);
    }
  }
}

struct RopeArgs {
  int64_t t_len, d, half, dims, ts, ds, per_batch, rows;
  bool traditional, offset_is_array, has_freqs;
  double scale, base;
  int64_t offset;
  Param offsets, freqs;
};

template <typename T>
__global__ void rope_kernel(const T* x, T* out, Layout<1> outer, RopeArgs a) {
  using A = acc_of<T>;
  const int64_t total = a.rows * a.t_len * a.d;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % a.d;
    const int64_t t = (e / a.d) % a.t_len;
    const int64_t r = e / (a.d * a.t_len);
    int64_t base[1];
    outer.offsets(r, base);
    const T* row = x + base[0] + t * a.ts;
    if (j >= a.dims) {
      out[e] = row[j * a.ds];
      continue;
    }
    const int64_t off =
        a.offset_is_array ? static_cast<int64_t>(a.offsets.at(r / a.per_batch)) : a.offset;
    const int64_t i = a.traditional ? j / 2 : (j < a.half ? j : j - a.half);
    const double inv_freq =
        a.has_freqs ? 1.0 / a.freqs.at(i) : pow(a.base, -2.0 * double(i) / double(a.dims));
    const double angle = static_cast<double>(off + t) * a.scale * inv_freq;
    const A c = static_cast<A>(cos(angle)), s = static_cast<A>(sin(angle));
    const int64_t i1 = a.traditional ? 2 * i : i, i2 = a.traditional ? 2 * i + 1 : i + a.half;
    const A x1 = static_cast<A>(load_c(row[i1 * a.ds])),
            x2 = static_cast<A>(load_c(row[i2 * a.ds]));
    A y;
    if (a.traditional) {
      y = (j % 2 == 0) ? x1 * c - x2 * s : x1 * s + x2 * c;
    } else {
      y = j < a.half ? x1 * c - x2 * s : x2 * c + x1 * s;
    }
    out[e] = store_c<T>(y);
  }
}

unsigned blocks_of(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(n, 1), 1 << 30));
}

template <typename F>
void dispatch_float(Dtype d, const char* op, F&& f) {
  if (d == float32) return f(float{});
  if (d == float16) return f(__half{});
  if (d == bfloat16) return f(__nv_bfloat16{});
  if (d == float64) return f(double{});
  throw Error(std::string("[") + op + "] not defined for " + d.name());
}

}  // namespace

}  // namespace cuda

void RmsNorm::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  Shape rs(x.shape.begin(), x.shape.end() - 1);
  Strides rst(x.strides.begin(), x.strides.end() - 1);
  const Node* res = has_residual_ ? in[has_weight_ ? 2 : 1] : nullptr;
  Strides resst = res ? Strides(res->strides.begin(), res->strides.end() - 1) : rst;
  const int64_t n = x.shape.back(), count = static_cast<int64_t>(shape_size(rs));
  auto rows = cuda::make_layout<2>(name(), rs, {&rst, &resst});
  cuda::Param w;
  int64_t w_heads = 1, w_row_stride = 0;
  if (has_weight_) {
    w = cuda::param_of(*in[1]);
    if (in[1]->shape.size() == 2) {
      w_heads = in[1]->shape[0];
      w_row_stride = in[1]->strides[0];
      w.stride = in[1]->strides[1];
    }
  }
  cuda::dispatch_float(x.dtype, name(), [&](auto t) {
    using T = decltype(t);
    using A = cuda::acc_of<T>;
    cuda::rms_norm_kernel<T>
        <<<cuda::blocks_of(count), 256, 256 * sizeof(A), cuda::current_stream()>>>(
            x.data<T>(), out.data<T>(), rows, count, n, x.strides.back(), w, has_weight_,
            w_heads, w_row_stride, eps_,
            res ? res->data<T>() : nullptr, res ? res->strides.back() : 0);
  });
}

void LayerNorm::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  Shape rs(x.shape.begin(), x.shape.end() - 1);
  Strides rst(x.strides.begin(), x.strides.end() - 1);
  const int64_t n = x.shape.back(), count = static_cast<int64_t>(shape_size(rs));
  auto rows = cuda::make_layout<1>(name(), rs, {&rst});
  cuda::Param w, b;
  size_t next = 1;
  if (has_weight_) w = cuda::param_of(*in[next++]);
  if (has_bias_) b = cuda::param_of(*in[next]);
  cuda::dispatch_float(x.dtype, name(), [&](auto t) {
    using T = decltype(t);
    using A = cuda::acc_of<T>;
    cuda::layer_norm_kernel<T>
        <<<cuda::blocks_of(count), 256, 256 * sizeof(A), cuda::current_stream()>>>(
            x.data<T>(), out.data<T>(), rows, count, n, x.strides.back(), w, has_weight_, b,
            has_bias_, eps_);
  });
}

void GroupNorm::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  Shape ps(x.shape.begin() + 1, x.shape.end() - 1);
  Strides pst(x.strides.begin() + 1, x.strides.end() - 1);
  auto pos = cuda::make_layout<1>(name(), ps, {&pst});
  cuda::Param w, b;
  if (has_weight_) w = cuda::param_of(*in[1]);
  if (has_bias_) b = cuda::param_of(*in[has_weight_ ? 2 : 1]);
  const int64_t batch = x.shape[0], positions = static_cast<int64_t>(shape_size(ps));
  cuda::dispatch_float(x.dtype, name(), [&](auto t) {
    using T = decltype(t);
    cuda::group_norm_kernel<T>
        <<<cuda::blocks_of(batch * groups_), 256, 256 * sizeof(double), cuda::current_stream()>>>(
            x.data<T>(), out.data<T>(), pos, batch, groups_, positions, x.shape.back(),
            x.strides[0], x.strides.back(), w, has_weight_, b, has_bias_, eps_);
  });
}

void Rope::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  const int nd = static_cast<int>(x.shape.size());
  Shape outer(x.shape.begin(), x.shape.end() - 2);
  Strides outer_in(x.strides.begin(), x.strides.end() - 2);
  cuda::RopeArgs a{};
  a.t_len = x.shape[nd - 2];
  a.d = x.shape[nd - 1];
  a.dims = p_.dims;
  a.half = p_.dims / 2;
  a.ts = x.strides[nd - 2];
  a.ds = x.strides[nd - 1];
  a.rows = static_cast<int64_t>(shape_size(outer));
  a.traditional = p_.traditional;
  a.scale = p_.scale;
  a.base = p_.base;
  a.offset = p_.offset;
  a.offset_is_array = p_.offset_is_array;
  a.has_freqs = p_.has_freqs;
  size_t next = 1;
  a.per_batch = 1;
  if (p_.offset_is_array) {
    a.offsets = cuda::param_of(*in[next++]);
    if (in[1]->size() > 1) a.per_batch = a.rows / x.shape[0];
  }
  if (p_.has_freqs) a.freqs = cuda::param_of(*in[next]);
  auto layout = cuda::make_layout<1>(name(), outer, {&outer_in});
  const size_t total = out.size();
  cuda::dispatch_float(x.dtype, name(), [&](auto t) {
    using T = decltype(t);
    cuda::rope_kernel<T><<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
        x.data<T>(), out.data<T>(), layout, a);
  });
}

}  // namespace lathe
