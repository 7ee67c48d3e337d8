// CUDA kernel of gather_mm (the products of mixture-of-experts layers): the
// index values are read back and checked on the host and turned into matrix
// offsets; a thread per output element then sums in the compute type
// (float for 16-bit floats), reading both operands through their strides.
#include <string>
#include <vector>

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/linalg.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

// The element offset of each matrix of x's batch dims (all but the last two), row-major.
std::vector<int64_t> matrix_offsets(const Node& x) {
  const size_t nb = x.shape.size() - 2;
  Shape bs(x.shape.begin(), x.shape.begin() + nb);
  std::vector<int64_t> offs(shape_size(bs), 0);
  for (size_t e = 0; e < offs.size(); ++e) {
    int64_t rem = static_cast<int64_t>(e), off = 0;
    for (int d = static_cast<int>(nb) - 1; d >= 0; --d) {
      off += (rem % bs[d]) * x.strides[d];
      rem /= bs[d];
    }
    offs[e] = off;
  }
  return offs;
}

// Offsets of the matrices picked by idx (uint32, broadcast to batch); throws on a bad value.
std::vector<int64_t> gathered(const Node& idx, const Shape& batch, const Node& x,
                              const char* which) {
  const std::vector<int64_t> own = matrix_offsets(x);
  std::vector<uint32_t> host(idx.size());
  if (!host.empty()) {
    std::shared_ptr<Buffer> dense;
    const void* src = idx.raw();
    if (!idx.contiguous) {
      dense = scratch(idx.nbytes());
      copy_to_contiguous(idx, dense->ptr());
      src = dense->ptr();
    }
    cudaStream_t s = current_stream();
    check(cudaMemcpyAsync(host.data(), src, idx.nbytes(), cudaMemcpyDeviceToHost, s), "gather_mm");
    check(cudaStreamSynchronize(s), "gather_mm");
  }
  const Strides rs = row_strides(idx.shape);
  std::vector<int64_t> offs(shape_size(batch));
  for (size_t e = 0; e < offs.size(); ++e) {
    int64_t rem = static_cast<int64_t>(e), at = 0;
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      const int64_t c = rem % batch[d];
      rem /= batch[d];
      const int id = d - static_cast<int>(batch.size() - idx.shape.size());
      if (id >= 0 && idx.shape[id] != 1) at += c * rs[id];
    }
    const uint32_t j = host[at];
    if (j >= own.size()) {
      throw Error(std::string("[gather_mm] ") + which + " value " + std::to_string(j) +
                  " is out of range for " + std::to_string(own.size()) + " matrices");
    }
    offs[e] = own[j];
  }
  return offs;
}

struct MatStrides {
  int64_t am, ak, bk, bn;
};

template <typename T>
__global__ void gather_mm_kernel(const T* a, const T* b, const int64_t* ao, const int64_t* bo,
                                 T* out, MatStrides st, int64_t m, int64_t n, int64_t k,
                                 int64_t total) {
  using A = compute_of<T>;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % n, i = (e / n) % m, p = e / (n * m);
    const T* ar = a + ao[p] + i * st.am;
    const T* bc = b + bo[p] + j * st.bn;
    A acc = 0;
    for (int64_t c = 0; c < k; ++c) acc += load_c(ar[c * st.ak]) * load_c(bc[c * st.bk]);
    out[e] = store_c<T>(acc);
  }
}

std::shared_ptr<Buffer> upload(const std::vector<int64_t>& v) {
  auto b = scratch(std::max<size_t>(1, v.size()) * sizeof(int64_t));
  check(cudaMemcpyAsync(b->ptr(), v.data(), v.size() * sizeof(int64_t), cudaMemcpyHostToDevice,
                        current_stream()),
        "gather_mm");
  return b;
}

}  // namespace
}  // namespace cuda

void GatherMM::eval_cuda(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& b = *in[1];
  const size_t nd = out.shape.size();
  Shape batch(out.shape.begin(), out.shape.end() - 2);
  auto ao = cuda::upload(cuda::gathered(*in[2], batch, a, "lhs_indices"));
  auto bo = cuda::upload(cuda::gathered(*in[3], batch, b, "rhs_indices"));
  out.allocate();
  if (out.size() == 0) return;
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1], k = a.shape.back();
  const size_t an = a.shape.size(), bn = b.shape.size();
  const cuda::MatStrides st{a.strides[an - 2], a.strides[an - 1], b.strides[bn - 2],
                            b.strides[bn - 1]};
  const int64_t total = static_cast<int64_t>(out.size());
  cuda::dispatch_device(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_floating_point_v<cuda::compute_of<T>>) {
      throw Error(std::string("[gather_mm] unsupported dtype ") + out.dtype.name());
    } else {
      cuda::gather_mm_kernel<T><<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
          a.data<T>(), b.data<T>(), static_cast<const int64_t*>(ao->ptr()),
          static_cast<const int64_t*>(bo->ptr()), out.data<T>(), st, m, n, k, total);
    }
  });
  cuda::check(cudaGetLastError(), name());
}

}  // namespace lathe
