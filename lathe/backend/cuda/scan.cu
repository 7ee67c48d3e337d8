// CUDA kernel of the cumulative scans (cumsum, cumprod, cummax, cummin): one
// thread per line walks it in order, so sums accumulate in the CPU's order
// (bit-identical results); 16-bit floats accumulate in float.
#include <limits>

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/reduce.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

template <typename A>
__device__ __forceinline__ A scan_step(ScanOp op, A acc, A x) {
  switch (op) {
    case ScanOp::sum: return static_cast<A>(acc + x);
    case ScanOp::prod: return static_cast<A>(acc * x);
    default: break;
  }
  // A NaN, once met, stays (numpy's maximum.accumulate).
  if (is_nan_dev(acc)) return acc;
  if (is_nan_dev(x)) return x;
  if (op == ScanOp::max) return x > acc ? x : acc;
  return x < acc ? x : acc;
}

template <typename T>
__global__ void scan_kernel(ScanOp op, const T* x, T* out, Layout<1> rest, int64_t lines, int64_t n,
                            int64_t in_stride, int64_t inner, compute_of<T> init, bool reverse,
                            bool inclusive) {
  using A = compute_of<T>;
  for (int64_t line = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; line < lines;
       line += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[1];
    rest.offsets(line, off);
    const T* src = x + off[0];
    // Output is contiguous: line = outer * inner + r, element i at (outer * n + i) * inner + r.
    T* dst = out + (line / inner) * n * inner + line % inner;
    A acc = init;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = reverse ? n - 1 - k : k;
      const A v = load_c(src[i * in_stride]);
      if (inclusive) {
        acc = scan_step(op, acc, v);
        dst[i * inner] = store_c<T>(acc);
      } else {
        dst[i * inner] = store_c<T>(acc);
        acc = scan_step(op, acc, v);
      }
    }
  }
}

template <typename A>
A scan_init(ScanOp op) {
  switch (op) {
    case ScanOp::sum: return A(0);
    case ScanOp::prod: return A(1);
    case ScanOp::max:
      if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
      return std::numeric_limits<A>::lowest();
    case ScanOp::min:
      if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
      return std::numeric_limits<A>::max();
  }
  return A(0);
}

}  // namespace
}  // namespace cuda

void Scan::eval_cuda(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  const int64_t n = a.shape[axis_];
  Shape rs;
  Strides rst;
  int64_t inner = 1;
  for (int d = 0; d < static_cast<int>(a.shape.size()); ++d) {
    if (d == axis_) continue;
    rs.push_back(a.shape[d]);
    rst.push_back(a.strides[d]);
    if (d > axis_) inner *= a.shape[d];
  }
  auto rest = cuda::make_layout<1>(name(), rs, {&rst});
  int64_t lines = 1;
  for (auto s : rs) lines *= s;
  cuda::dispatch_device(a.dtype, [&](auto t) {
    using T = decltype(t);
    using A = cuda::compute_of<T>;
    cuda::scan_kernel<T><<<cuda::grid_for(lines, 128), 128, 0, cuda::current_stream()>>>(
        op_, a.data<T>(), out.data<T>(), rest, lines, n, a.strides[axis_], inner,
        cuda::scan_init<A>(op_), reverse_, inclusive_);
  });
  cuda::check(cudaGetLastError(), name());
}

}  // namespace lathe
