// CUDA kernel of take/gather (embedding lookups). Indices are read back and
// checked on the host first, as on the CPU, so that an out-of-range index
// throws naming the op instead of reading stray memory (this synchronizes
// with the stream: a device-side check is future work).
#include <vector>

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/indexing.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

template <typename T>
__global__ void take_kernel(const T* a, const int64_t* idx, T* out, Layout<1> rest, int64_t m,
                            int64_t inner, int64_t axis_stride, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e % inner, j = (e / inner) % m, o = e / (inner * m);
    int64_t off[1];
    rest.offsets(o * inner + r, off);
    out[e] = a[off[0] + idx[j] * axis_stride];
  }
}

}  // namespace
}  // namespace cuda

void Take::eval_cuda(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& ix = *in[1];
  const int64_t n = a.shape[axis_];
  std::vector<int64_t> idx(ix.size());
  if (!idx.empty()) {
    std::vector<char> raw(ix.nbytes());
    std::shared_ptr<Buffer> dense;
    const void* src = ix.raw();
    if (!ix.contiguous) {
      dense = cuda::scratch(ix.nbytes());
      cuda::copy_to_contiguous(ix, dense->ptr());
      src = dense->ptr();
    }
    cudaStream_t s = cuda::current_stream();
    cuda::check(cudaMemcpyAsync(raw.data(), src, raw.size(), cudaMemcpyDeviceToHost, s), op_);
    cuda::check(cudaStreamSynchronize(s), op_);
    convert_elements(raw.data(), ix.dtype, idx.data(), int64, idx.size());
    for (auto& i : idx) {
      int64_t k = i < 0 ? i + n : i;
      if (k < 0 || k >= n) {
        throw Error(std::string("[") + op_ + "] index " + std::to_string(i) +
                    " is out of range for axis " + std::to_string(axis_) + " of size " +
                    std::to_string(n));
      }
      i = k;
    }
  }
  out.allocate();
  if (out.size() == 0) return;
  auto dev_idx = cuda::scratch(idx.size() * sizeof(int64_t));
  cuda::check(cudaMemcpyAsync(dev_idx->ptr(), idx.data(), idx.size() * sizeof(int64_t),
                              cudaMemcpyHostToDevice, cuda::current_stream()),
              op_);
  Shape rs;
  Strides rst;
  int64_t inner = 1;
  for (int d = 0; d < static_cast<int>(a.shape.size()); ++d) {
    if (d == axis_) continue;
    rs.push_back(a.shape[d]);
    rst.push_back(a.strides[d]);
    if (d > axis_) inner *= a.shape[d];
  }
  auto rest = cuda::make_layout<1>(op_, rs, {&rst});
  const int64_t total = static_cast<int64_t>(out.size());
  cuda::dispatch_bits(a.dtype.size(), [&](auto t) {
    using T = decltype(t);
    cuda::take_kernel<T><<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
        a.data<T>(), static_cast<const int64_t*>(dev_idx->ptr()), out.data<T>(), rest,
        static_cast<int64_t>(idx.size()), inner, a.strides[axis_], total);
  });
}

}  // namespace lathe
