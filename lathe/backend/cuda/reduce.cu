// CUDA kernels of the reductions: Reduce over any set of axes, ArgReduce and
// Softmax along one axis. One block per output element (or softmax line);
// the input is walked through two layouts, the kept dims and the reduced dims,
// so any axes and any strides work without a transposing copy.
#include <algorithm>
#include <cmath>
#include <limits>

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/reduce.h"

namespace lathe {

using detail::Node;

namespace cuda {

namespace {

template <typename T>
__global__ void reduce_kernel(ReduceOp op, const T* x, T* out, Layout<1> kept, Layout<1> red,
                              int64_t outputs, int64_t count, compute_of<T> lowest,
                              compute_of<T> highest, int ddof) {
  using A = compute_of<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  A* sh = reinterpret_cast<A*>(smem);
  for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {
    int64_t base[1];
    kept.offsets(o, base);
    // Folds every reduced element with step(acc, x), then merges across the block.
    auto fold = [&](A init, auto step, auto merge) {
      A acc = init;
      for (int64_t r = threadIdx.x; r < count; r += blockDim.x) {
        int64_t off[1];
        red.offsets(r, off);
        acc = step(acc, load_c(x[base[0] + off[0]]));
      }
      return block_reduce(acc, sh, merge);
    };
    auto add = [](A a, A b) { return static_cast<A>(a + b); };
    auto mul = [](A a, A b) { return static_cast<A>(a * b); };
    auto mx = [](A a, A b) { return nan_max(a, b); };
    auto mn = [](A a, A b) { return nan_min(a, b); };
    A result{};
    switch (op) {
      case ReduceOp::sum: result = fold(A(0), add, add); break;
      case ReduceOp::prod: result = fold(A(1), mul, mul); break;
      case ReduceOp::max: result = fold(lowest, mx, mx); break;
      case ReduceOp::min: result = fold(highest, mn, mn); break;
      case ReduceOp::all:
        result = fold(
            A(1), [](A a, A b) { return static_cast<A>(a && b); },
            [](A a, A b) { return static_cast<A>(a && b); });
        break;
      case ReduceOp::any:
        result = fold(
            A(0), [](A a, A b) { return static_cast<A>(a || b); },
            [](A a, A b) { return static_cast<A>(a || b); });
        break;
      default:
        if constexpr (std::is_floating_point_v<A>) {
          const A n = static_cast<A>(count);
          if (op == ReduceOp::mean) {
            result = fold(A(0), add, add) / n;
          } else if (op == ReduceOp::var) {
            const A mean = fold(A(0), add, add) / n;
            const A dev = fold(
                A(0), [mean](A a, A v) { return a + (v - mean) * (v - mean); }, add);
            result = dev / static_cast<A>(count - ddof > 0 ? count - ddof : 0);
          } else {  // logsumexp
            const A m = fold(lowest, mx, mx);
            const A s = fold(
                A(0), [m](A a, A v) { return a + exp(v - m); }, add);
            result = isfinite(m) ? m + log(s) : m;
          }
        }
        break;
    }
    if (threadIdx.x == 0) out[o] = store_c<T>(result);
  }
}

// The better of two candidate indices of one row (-1: none): a NaN beats everything,
// then the larger (MAX) or smaller value, ties to the lower index.
template <bool MAX, typename T>
__device__ int64_t arg_pick(const T* x, int64_t base, int64_t stride, int64_t a, int64_t b) {
  using A = compute_of<T>;
  if (a < 0) return b;
  if (b < 0) return a;
  A va = load_c(x[base + a * stride]), vb = load_c(x[base + b * stride]);
  bool na = is_nan_dev(va), nb = is_nan_dev(vb);
  if (na || nb) return na && nb ? (a < b ? a : b) : (na ? a : b);
  if (MAX ? va > vb : va < vb) return a;
  if (MAX ? vb > va : vb < va) return b;
  return a < b ? a : b;
}

// The block's first best index of row `base` over [begin, end) (-1 when empty): each thread
// scans its strided share (a NaN it meets ends its scan: nothing later beats it), then the
// block reduces with arg_pick. idx: blockDim.x int64 of shared memory.
template <bool MAX, typename T>
__device__ int64_t block_arg(const T* x, int64_t base, int64_t stride, int64_t begin, int64_t end,
                             int64_t* idx) {
  using A = compute_of<T>;
  int64_t best = -1;
  A bv{};
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    A v = load_c(x[base + i * stride]);
    if (best >= 0 && is_nan_dev(bv)) break;
    if (best < 0 || is_nan_dev(v) || (MAX ? v > bv : v < bv)) {
      best = i;
      bv = v;
    }
  }
  return block_reduce(best, idx, [&](int64_t a, int64_t b) {
    return arg_pick<MAX>(x, base, stride, a, b);
  });
}

template <bool MAX, typename T>
__global__ void arg_reduce_kernel(const T* x, uint32_t* out, Layout<1> kept, int64_t outputs,
                                  int64_t n, int64_t stride) {
  extern __shared__ __align__(16) unsigned char smem[];
  int64_t* idx = reinterpret_cast<int64_t*>(smem);
  for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {
    int64_t base[1];
    kept.offsets(o, base);
    const int64_t r = block_arg<MAX>(x, base[0], stride, 0, n, idx);
    if (threadIdx.x == 0) out[o] = static_cast<uint32_t>(r < 0 ? 0 : r);
  }
}

// A long row (a decode step's logits over the vocabulary) split across blocks: block
// (output o, chunk c) leaves the first best index of its chunk in cand[o * chunks + c];
// arg_merge_kernel then picks among the chunks' candidates with the same rule (first best,
// a NaN beats everything, ties to the lower index).
template <bool MAX, typename T>
__global__ void arg_chunk_kernel(const T* x, int64_t* cand, Layout<1> kept, int64_t n,
                                 int64_t stride, int64_t chunk, int chunks) {
  extern __shared__ __align__(16) unsigned char smem[];
  int64_t* idx = reinterpret_cast<int64_t*>(smem);
  const int64_t o = blockIdx.x / chunks;
  const int c = static_cast<int>(blockIdx.x % chunks);
  int64_t base[1];
  kept.offsets(o, base);
  const int64_t begin = c * chunk, end = begin + chunk < n ? begin + chunk : n;
  const int64_t r = block_arg<MAX>(x, base[0], stride, begin, end, idx);
  if (threadIdx.x == 0) cand[blockIdx.x] = r;
}

template <bool MAX, typename T>
__global__ void arg_merge_kernel(const T* x, const int64_t* cand, uint32_t* out, Layout<1> kept,
                                 int64_t stride, int chunks) {
  extern __shared__ __align__(16) unsigned char smem[];
  int64_t* idx = reinterpret_cast<int64_t*>(smem);
  const int64_t o = blockIdx.x;
  int64_t base[1];
  kept.offsets(o, base);
  auto pick = [&](int64_t a, int64_t b) { return arg_pick<MAX>(x, base[0], stride, a, b); };
  int64_t best = -1;
  for (int c = threadIdx.x; c < chunks; c += blockDim.x) best = pick(best, cand[o * chunks + c]);
  int64_t r = block_reduce(best, idx, pick);
  if (threadIdx.x == 0) out[o] = static_cast<uint32_t>(r < 0 ? 0 : r);
}

template <typename T>
__global__ void softmax_kernel(const T* x, T* out, Layout<2> lines, int64_t count, int64_t n,
                               int64_t in_stride, int64_t out_stride, compute_of<T> lowest) {
  using A = compute_of<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  A* sh = reinterpret_cast<A*>(smem);
  for (int64_t o = blockIdx.x; o < count; o += gridDim.x) {
    int64_t base[2];
    lines.offsets(o, base);
    A m = lowest;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      m = nan_max(m, load_c(x[base[0] + i * in_stride]));
    }
    m = block_reduce(m, sh, [](A a, A b) { return nan_max(a, b); });
    A s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      s += exp(load_c(x[base[0] + i * in_stride]) - m);
    }
    s = block_reduce(s, sh, [](A a, A b) { return a + b; });
    const A inv = A(1) / s;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      out[base[1] + i * out_stride] = store_c<T>(exp(load_c(x[base[0] + i * in_stride]) - m) * inv);
    }
  }
}

// A power-of-two block size for n items per block.
unsigned block_for(int64_t n) {
  unsigned b = 32;
  while (b < 256 && b < n) b <<= 1;
  return b;
}

unsigned blocks_for(int64_t outputs) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(outputs, 1), 1 << 30));
}

template <typename A>
A lowest_of() {
  if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
  return std::numeric_limits<A>::lowest();
}
template <typename A>
A highest_of() {
  if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
  return std::numeric_limits<A>::max();
}

}  // namespace

}  // namespace cuda

void Reduce::eval_cuda(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  const int64_t outputs = static_cast<int64_t>(out.size());
  if (outputs == 0) return;
  Shape ks, rs;
  Strides kst, rst;
  for (int d = 0; d < static_cast<int>(in.shape.size()); ++d) {
    bool reduced = std::binary_search(axes_.begin(), axes_.end(), d);
    (reduced ? rs : ks).push_back(in.shape[d]);
    (reduced ? rst : kst).push_back(in.strides[d]);
  }
  const int64_t count = static_cast<int64_t>(shape_size(rs));
  auto kept = cuda::make_layout<1>(name(), ks, {&kst});
  auto red = cuda::make_layout<1>(name(), rs, {&rst});
  const unsigned threads = cuda::block_for(count);
  cuda::dispatch_device(in.dtype, [&](auto t) {
    using T = decltype(t);
    using A = cuda::compute_of<T>;
    cuda::reduce_kernel<T>
        <<<cuda::blocks_for(outputs), threads, threads * sizeof(A), cuda::current_stream()>>>(
            op_, in.data<T>(), out.data<T>(), kept, red, outputs, count, cuda::lowest_of<A>(),
            cuda::highest_of<A>(), ddof_);
  });
}

void ArgReduce::eval_cuda(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  const int64_t outputs = static_cast<int64_t>(out.size());
  if (outputs == 0) return;
  Shape ks;
  Strides kst;
  for (int d = 0; d < static_cast<int>(in.shape.size()); ++d) {
    if (d == axis_) continue;
    ks.push_back(in.shape[d]);
    kst.push_back(in.strides[d]);
  }
  const int64_t n = in.shape[axis_];
  auto kept = cuda::make_layout<1>(name(), ks, {&kst});
  const unsigned threads = cuda::block_for(n);
  // Few long rows (a decode step's logits): one block a row would leave the GPU idle, so
  // each row is split across blocks and their candidates merged.
  const int64_t chunk = 8192;
  const int64_t chunks = (n + chunk - 1) / chunk;
  if (outputs * 2 <= cuda::sm_count() && chunks >= 4 && outputs * chunks <= (int64_t(1) << 30)) {
    auto cand = cuda::scratch(static_cast<size_t>(outputs * chunks) * sizeof(int64_t));
    auto* c = static_cast<int64_t*>(cand->ptr());
    const int ch = static_cast<int>(chunks);
    const unsigned mt = cuda::block_for(chunks);
    cuda::dispatch_device(in.dtype, [&](auto t) {
      using T = decltype(t);
      auto s = cuda::current_stream();
      const T* x = in.data<T>();
      const int64_t st = in.strides[axis_];
      const auto blocks = static_cast<unsigned>(outputs * chunks);
      const auto rows = static_cast<unsigned>(outputs);
      if (op_ == ArgReduceOp::argmax) {
        cuda::arg_chunk_kernel<true, T><<<blocks, 256, 256 * sizeof(int64_t), s>>>(
            x, c, kept, n, st, chunk, ch);
        cuda::arg_merge_kernel<true, T><<<rows, mt, mt * sizeof(int64_t), s>>>(
            x, c, out.data<uint32_t>(), kept, st, ch);
      } else {
        cuda::arg_chunk_kernel<false, T><<<blocks, 256, 256 * sizeof(int64_t), s>>>(
            x, c, kept, n, st, chunk, ch);
        cuda::arg_merge_kernel<false, T><<<rows, mt, mt * sizeof(int64_t), s>>>(
            x, c, out.data<uint32_t>(), kept, st, ch);
      }
    });
    return;
  }
  cuda::dispatch_device(in.dtype, [&](auto t) {
    using T = decltype(t);
    auto s = cuda::current_stream();
    if (op_ == ArgReduceOp::argmax) {
      cuda::arg_reduce_kernel<true, T>
          <<<cuda::blocks_for(outputs), threads, threads * sizeof(int64_t), s>>>(
              in.data<T>(), out.data<uint32_t>(), kept, outputs, n, in.strides[axis_]);
    } else {
      cuda::arg_reduce_kernel<false, T>
          <<<cuda::blocks_for(outputs), threads, threads * sizeof(int64_t), s>>>(
              in.data<T>(), out.data<uint32_t>(), kept, outputs, n, in.strides[axis_]);
    }
  });
}

void Softmax::eval_cuda(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  if (out.size() == 0) return;
  const Strides os = row_strides(out.shape);
  Shape ls;
  Strides ist, ost;
  for (int d = 0; d < static_cast<int>(in.shape.size()); ++d) {
    if (d == axis_) continue;
    ls.push_back(in.shape[d]);
    ist.push_back(in.strides[d]);
    ost.push_back(os[d]);
  }
  const int64_t lines = static_cast<int64_t>(shape_size(ls));
  const int64_t n = in.shape[axis_];
  auto layout = cuda::make_layout<2>("softmax", ls, {&ist, &ost});
  const unsigned threads = cuda::block_for(n);
  cuda::dispatch_device(in.dtype, [&](auto t) {
    using T = decltype(t);
    using A = cuda::compute_of<T>;
    if constexpr (std::is_floating_point_v<A>) {
      cuda::softmax_kernel<T>
          <<<cuda::blocks_for(lines), threads, threads * sizeof(A), cuda::current_stream()>>>(
              in.data<T>(), out.data<T>(), layout, lines, n, in.strides[axis_], os[axis_],
              cuda::lowest_of<A>());
    } else {
      throw Error(std::string("[softmax] not defined for ") + in.dtype.name());
    }
  });
}

}  // namespace lathe
