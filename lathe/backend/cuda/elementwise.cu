// CUDA kernels of the elementwise primitives: unary, binary (with
// broadcasting), select and astype over strided operands. The op is a kernel
// argument, the dtype a template parameter: one instantiation per dtype.
// Built with -fmad=false, as compile's fused kernels are (see elementwise_ops.cuh).
#include "lathe/backend/cuda/elementwise_ops.cuh"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/elementwise.h"

namespace lathe {

using detail::Node;

namespace cuda {

namespace {

#define LATHE_GRID_LOOP(i, n)                                               \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

template <typename T, typename R>
__global__ void unary_kernel(UnaryOp op, const T* x, R* out, Layout<1> l, bool linear, int64_t n) {
  using C = compute_of<T>;
  LATHE_GRID_LOOP(i, n) {
    int64_t off[1] = {i};
    if (!linear) l.offsets(i, off);
    out[i] = store_c<R>(unary_dev<C>(op, load_c(x[off[0]])));
  }
}

template <typename T, typename R>
__global__ void binary_kernel(BinaryOp op, const T* a, const T* b, R* out, Layout<2> l, bool linear,
                              int64_t n) {
  using C = compute_of<T>;
  LATHE_GRID_LOOP(i, n) {
    int64_t off[2] = {i, i};
    if (!linear) l.offsets(i, off);
    out[i] = store_c<R>(binary_dev<C>(op, load_c(a[off[0]]), load_c(b[off[1]])));
  }
}

// Dense operands of one dtype, 16-byte aligned: each thread moves 16 bytes per load and store
// (elementwise throughput near the copy bandwidth; the scalar loop above reaches about half).
template <typename T, int E>
struct alignas(sizeof(T) * E) Pack {
  T v[E];
};

template <typename T>
__host__ __device__ constexpr int pack_of() {
  return sizeof(T) >= 16 ? 1 : 16 / static_cast<int>(sizeof(T));
}

template <typename T>
__global__ void unary_vec_kernel(UnaryOp op, const T* x, T* out, int64_t n) {
  using C = compute_of<T>;
  constexpr int E = pack_of<T>();
  using P = Pack<T, E>;
  const int64_t packs = n / E;
  LATHE_GRID_LOOP(p, packs) {
    const P in = reinterpret_cast<const P*>(x)[p];
    P o;
#pragma unroll
    for (int k = 0; k < E; ++k) o.v[k] = store_c<T>(unary_dev<C>(op, load_c(in.v[k])));
    reinterpret_cast<P*>(out)[p] = o;
  }
  LATHE_GRID_LOOP(i, n - packs * E) {
    const int64_t j = packs * E + i;
    out[j] = store_c<T>(unary_dev<C>(op, load_c(x[j])));
  }
}

template <typename T>
__global__ void binary_vec_kernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n) {
  using C = compute_of<T>;
  constexpr int E = pack_of<T>();
  using P = Pack<T, E>;
  const int64_t packs = n / E;
  LATHE_GRID_LOOP(p, packs) {
    const P x = reinterpret_cast<const P*>(a)[p];
    const P y = reinterpret_cast<const P*>(b)[p];
    P o;
#pragma unroll
    for (int k = 0; k < E; ++k) o.v[k] = store_c<T>(binary_dev<C>(op, load_c(x.v[k]), load_c(y.v[k])));
    reinterpret_cast<P*>(out)[p] = o;
  }
  LATHE_GRID_LOOP(i, n - packs * E) {
    const int64_t j = packs * E + i;
    out[j] = store_c<T>(binary_dev<C>(op, load_c(a[j]), load_c(b[j])));
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T>
__global__ void select_kernel(const bool* c, const T* a, const T* b, T* out, Layout<3> l,
                              int64_t n) {
  LATHE_GRID_LOOP(i, n) {
    int64_t off[3];
    l.offsets(i, off);
    out[i] = c[off[0]] ? a[off[1]] : b[off[2]];
  }
}

__device__ __forceinline__ void store_any(void* p, int64_t k, Dtype::Val d, const AnyValue& v) {
  switch (d) {
    case Dtype::Val::bool_: static_cast<bool*>(p)[k] = convert_any<bool>(v); break;
    case Dtype::Val::uint8: static_cast<uint8_t*>(p)[k] = convert_any<uint8_t>(v); break;
    case Dtype::Val::uint32: static_cast<uint32_t*>(p)[k] = convert_any<uint32_t>(v); break;
    case Dtype::Val::int8: static_cast<int8_t*>(p)[k] = convert_any<int8_t>(v); break;
    case Dtype::Val::int32: static_cast<int32_t*>(p)[k] = convert_any<int32_t>(v); break;
    case Dtype::Val::int64: static_cast<int64_t*>(p)[k] = convert_any<int64_t>(v); break;
    case Dtype::Val::float16: static_cast<__half*>(p)[k] = convert_any<__half>(v); break;
    case Dtype::Val::bfloat16:
      static_cast<__nv_bfloat16*>(p)[k] = convert_any<__nv_bfloat16>(v);
      break;
    case Dtype::Val::float32: static_cast<float*>(p)[k] = convert_any<float>(v); break;
    case Dtype::Val::float64: static_cast<double*>(p)[k] = convert_any<double>(v); break;
  }
}

__global__ void astype_kernel(const void* x, Dtype::Val from, void* out, Dtype::Val to, Layout<1> l,
                              bool linear, int64_t n) {
  LATHE_GRID_LOOP(i, n) {
    int64_t off[1] = {i};
    if (!linear) l.offsets(i, off);
    store_any(out, i, to, load_any(x, off[0], from));
  }
}

template <typename T>
__global__ void scale_kernel(T* x, double factor, int64_t n) {
  LATHE_GRID_LOOP(i, n) { x[i] = store_c<T>(load_c(x[i]) * static_cast<compute_of<T>>(factor)); }
}

bool floating_only(UnaryOp op) {
  return op != UnaryOp::negative && op != UnaryOp::abs && op != UnaryOp::square &&
         op != UnaryOp::relu && op != UnaryOp::sign && op != UnaryOp::bitwise_not &&
         op != UnaryOp::logical_not;
}

}  // namespace

void convert_broadcast(const Node& src, Node& out) {
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  Strides st = broadcast_strides(src, out.shape);
  Layout<1> l = make_layout<1>("astype", out.shape, {&st});
  astype_kernel<<<grid_for(n), 256, 0, current_stream()>>>(src.raw(), src.dtype.val, out.raw(),
                                                           out.dtype.val, l, false, n);
  check_launch("astype");
}

void scale(Node& out, double factor) {
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  dispatch_device(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_floating_point_v<compute_of<T>>) {
      scale_kernel<T><<<grid_for(n), 256, 0, current_stream()>>>(out.data<T>(), factor, n);
    } else {
      throw Error(std::string("[scale] not defined for ") + out.dtype.name());
    }
  });
  check_launch("scale");
}

}  // namespace cuda

void Unary::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  const void* src = x.raw();  // still valid when out takes the buffer over
  const bool is_float = x.dtype.is_floating();
  if (cuda::floating_only(op_) && !is_float) {
    throw Error(std::string("[") + unary_name(op_) + "] not defined for " + x.dtype.name());
  }
  if (op_ == UnaryOp::bitwise_not && is_float) {
    throw Error(std::string("[bitwise_not] not defined for ") + x.dtype.name());
  }
  // In place when the input's buffer is donatable: each element is read, then written.
  if (op_ != UnaryOp::logical_not && in[0]->donatable() && x.dtype == out.dtype) {
    out.donate_from(*in[0]);
  } else {
    out.allocate();
  }
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  cuda::Layout<1> l = cuda::make_layout<1>(name(), x.shape, {&x.strides});
  const bool linear = x.contiguous;
  cuda::dispatch_device(x.dtype, [&](auto t) {
    using T = decltype(t);
    auto s = cuda::current_stream();
    if (op_ == UnaryOp::logical_not) {
      cuda::unary_kernel<T, bool><<<cuda::grid_for(n), 256, 0, s>>>(op_, static_cast<const T*>(src),
                                                                    out.data<bool>(), l, linear, n);
    } else if (linear && cuda::aligned16(src) && cuda::aligned16(out.raw())) {
      const int64_t packs = n / cuda::pack_of<T>();
      cuda::unary_vec_kernel<T><<<cuda::grid_for(packs > 0 ? packs : n), 256, 0, s>>>(
          op_, static_cast<const T*>(src), out.data<T>(), n);
    } else {
      cuda::unary_kernel<T, T><<<cuda::grid_for(n), 256, 0, s>>>(op_, static_cast<const T*>(src),
                                                                 out.data<T>(), l, linear, n);
    }
  });
}

void Binary::eval_cuda(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& b = *in[1];
  const bool bitwise = op_ >= BinaryOp::bitwise_and && op_ <= BinaryOp::right_shift;
  if (bitwise && a.dtype.is_floating()) {
    throw Error(std::string("[") + binary_name(op_) + "] not defined for " + a.dtype.name());
  }
  out.allocate();
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  Strides sa = broadcast_strides(a, out.shape), sb = broadcast_strides(b, out.shape);
  cuda::Layout<2> l = cuda::make_layout<2>(name(), out.shape, {&sa, &sb});
  const bool linear =
      a.contiguous && b.contiguous && a.size() == out.size() && b.size() == out.size();
  const bool to_bool = op_ >= BinaryOp::equal && op_ <= BinaryOp::logical_or;
  cuda::dispatch_device(a.dtype, [&](auto t) {
    using T = decltype(t);
    auto s = cuda::current_stream();
    if (to_bool) {
      cuda::binary_kernel<T, bool><<<cuda::grid_for(n), 256, 0, s>>>(
          op_, a.data<T>(), b.data<T>(), out.data<bool>(), l, linear, n);
    } else if (linear && cuda::aligned16(a.raw()) && cuda::aligned16(b.raw()) &&
               cuda::aligned16(out.raw())) {
      const int64_t packs = n / cuda::pack_of<T>();
      cuda::binary_vec_kernel<T><<<cuda::grid_for(packs > 0 ? packs : n), 256, 0, s>>>(
          op_, a.data<T>(), b.data<T>(), out.data<T>(), n);
    } else {
      cuda::binary_kernel<T, T><<<cuda::grid_for(n), 256, 0, s>>>(op_, a.data<T>(), b.data<T>(),
                                                                  out.data<T>(), l, linear, n);
    }
  });
}

void Select::eval_cuda(const NodeList& in, Node& out) {
  const Node& c = *in[0];
  const Node& a = *in[1];
  const Node& b = *in[2];
  out.allocate();
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  Strides sc = broadcast_strides(c, out.shape), sa = broadcast_strides(a, out.shape),
          sb = broadcast_strides(b, out.shape);
  cuda::Layout<3> l = cuda::make_layout<3>("where", out.shape, {&sc, &sa, &sb});
  cuda::dispatch_bits(out.dtype.size(), [&](auto t) {
    using T = decltype(t);
    cuda::select_kernel<T><<<cuda::grid_for(n), 256, 0, cuda::current_stream()>>>(
        c.data<bool>(), a.data<T>(), b.data<T>(), out.data<T>(), l, n);
  });
}

void AsType::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  cuda::Layout<1> l = cuda::make_layout<1>("astype", x.shape, {&x.strides});
  cuda::astype_kernel<<<cuda::grid_for(n), 256, 0, cuda::current_stream()>>>(
      x.raw(), x.dtype.val, out.raw(), out.dtype.val, l, x.contiguous, n);
}

}  // namespace lathe
