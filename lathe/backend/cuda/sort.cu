// CUDA kernels of the sorting primitives: one block per line runs a bitonic
// sort of (key, index) pairs, in shared memory when the padded line fits and
// in global scratch otherwise. Ties are broken by index, a total order, so
// every op (partition and top-k included) gives what the CPU's stable order gives.
#include <algorithm>

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/sort.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

constexpr uint32_t kPad = 0xffffffffu;
constexpr size_t kSharedLimit = 48 * 1024;

// NaN after every number, as the CPU's key_less.
template <typename K>
__device__ __forceinline__ bool key_less(K a, K b) {
  if constexpr (std::is_floating_point_v<K>) {
    return a < b || (isnan(b) && !isnan(a));
  } else {
    return a < b;
  }
}

// Whether pair x goes before pair y: padding last, then by key, then by index.
template <typename K>
__device__ __forceinline__ bool goes_before(K kx, uint32_t ix, K ky, uint32_t iy, bool desc) {
  if (iy == kPad) return ix != kPad;
  if (ix == kPad) return false;
  const bool lt = desc ? key_less(ky, kx) : key_less(kx, ky);
  const bool gt = desc ? key_less(kx, ky) : key_less(ky, kx);
  return lt || (!gt && ix < iy);
}

__host__ __device__ constexpr int64_t pair_offset(int64_t padded) {
  return (padded * int64_t(sizeof(uint32_t)) + 7) / 8 * 8;
}

// Bytes of one line's (index, key) arrays, a multiple of 8.
template <typename K>
__host__ __device__ constexpr int64_t pair_bytes(int64_t padded) {
  return pair_offset(padded) + (padded * int64_t(sizeof(K)) + 7) / 8 * 8;
}

template <typename T>
__global__ void sort_kernel(const T* x, void* out, Layout<1> rest, int64_t rows, int64_t n,
                            int64_t in_stride, int64_t inner, int64_t m, int64_t padded, bool desc,
                            bool write_indices, bool shared, unsigned char* global_scratch) {
  using K = compute_of<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  unsigned char* base = shared ? smem : global_scratch + blockIdx.x * pair_bytes<K>(padded);
  // Indices first: the keys then start at a multiple of 8 bytes.
  uint32_t* idx = reinterpret_cast<uint32_t*>(base);
  K* keys = reinterpret_cast<K*>(base + pair_offset(padded));
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    int64_t off[1];
    rest.offsets(row, off);
    const T* src = x + off[0];
    for (int64_t t = threadIdx.x; t < padded; t += blockDim.x) {
      if (t < n) {
        keys[t] = load_c(src[t * in_stride]);
        idx[t] = static_cast<uint32_t>(t);
      } else {
        keys[t] = K{};
        idx[t] = kPad;
      }
    }
    __syncthreads();
    for (int64_t k = 2; k <= padded; k <<= 1) {
      for (int64_t j = k >> 1; j > 0; j >>= 1) {
        for (int64_t t = threadIdx.x; t < padded; t += blockDim.x) {
          const int64_t u = t ^ j;
          if (u <= t) continue;
          const bool up = (t & k) == 0;
          const bool swap = up ? goes_before(keys[u], idx[u], keys[t], idx[t], desc)
                               : goes_before(keys[t], idx[t], keys[u], idx[u], desc);
          if (swap) {
            const K kt = keys[t];
            keys[t] = keys[u];
            keys[u] = kt;
            const uint32_t it = idx[t];
            idx[t] = idx[u];
            idx[u] = it;
          }
        }
        __syncthreads();
      }
    }
    // Output is contiguous: row = outer * inner + r, element j at (outer * m + j) * inner + r.
    const int64_t outer = row / inner, r = row % inner;
    for (int64_t t = threadIdx.x; t < m; t += blockDim.x) {
      const int64_t o = (outer * m + t) * inner + r;
      if (write_indices) {
        static_cast<uint32_t*>(out)[o] = idx[t];
      } else {
        static_cast<T*>(out)[o] = src[idx[t] * in_stride];
      }
    }
    __syncthreads();
  }
}

}  // namespace
}  // namespace cuda

void Sort::eval_cuda(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  const int64_t n = a.shape[axis_];
  if (n > int64_t(0x7fffffff)) {
    throw Error(std::string("[") + name() + "] lines of " + std::to_string(n) +
                " elements are not supported on cuda");
  }
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
  int64_t rows = 1;
  for (auto s : rs) rows *= s;
  int64_t padded = 1;
  while (padded < n) padded <<= 1;
  const bool desc = op_ == SortOp::topk || op_ == SortOp::topk_indices;
  const bool indices =
      op_ == SortOp::argsort || op_ == SortOp::argpartition || op_ == SortOp::topk_indices;
  const int64_t m = desc ? kth_ : n;
  cuda::dispatch_device(a.dtype, [&](auto t) {
    using T = decltype(t);
    using K = cuda::compute_of<T>;
    const size_t pair_bytes = static_cast<size_t>(cuda::pair_bytes<K>(padded));
    const bool shared = pair_bytes <= cuda::kSharedLimit;
    const unsigned threads =
        static_cast<unsigned>(std::min<int64_t>(1024, std::max<int64_t>(32, padded / 2)));
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows, shared ? 65535 : 1024));
    std::shared_ptr<Buffer> scratch;
    if (!shared) scratch = cuda::scratch(pair_bytes * blocks);
    cuda::sort_kernel<T><<<blocks, threads, shared ? pair_bytes : 0, cuda::current_stream()>>>(
        a.data<T>(), out.raw(), rest, rows, n, a.strides[axis_], inner, m, padded, desc, indices,
        shared, shared ? nullptr : static_cast<unsigned char*>(scratch->ptr()));
  });
  cuda::check(cudaGetLastError(), name());
}

}  // namespace lathe
