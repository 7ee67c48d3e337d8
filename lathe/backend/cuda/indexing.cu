// CUDA kernel of take/gather (embedding lookups). Indices are checked on the
// device: an out-of-range one is recorded (device_errors.h) and thrown by the
// next wait on the GPU, naming the op, as the CPU throws at eval; its output
// elements are zeros. Nothing waits for the GPU at launch, so a decode step's
// embedding lookup never stalls the host.
#include <vector>

#include "lathe/backend/cuda/device_errors.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/indexing.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

template <typename T>
__global__ void take_kernel(const T* a, const void* idx, Dtype::Val idx_dtype, Layout<1> idx_layout,
                            bool idx_linear, T* out, Layout<1> rest, int64_t m, int64_t inner,
                            int64_t axis_stride, int64_t axis_size, int64_t total, DeviceError* err,
                            int op, int axis) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e % inner, j = (e / inner) % m, o = e / (inner * m);
    int64_t ioff[1] = {j};
    if (!idx_linear) idx_layout.offsets(j, ioff);
    const AnyValue v = load_any(idx, ioff[0], idx_dtype);
    const int64_t i = v.floating ? static_cast<int64_t>(v.f) : v.i;
    const int64_t k = i < 0 ? i + axis_size : i;
    if (k < 0 || k >= axis_size) {
      report_index_error(err, op, i, axis_size, axis);
      out[e] = T{};
      continue;
    }
    int64_t off[1];
    rest.offsets(o * inner + r, off);
    out[e] = a[off[0] + k * axis_stride];
  }
}

}  // namespace
}  // namespace cuda

void Take::eval_cuda(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& ix = *in[1];
  const int64_t n = a.shape[axis_];
  out.allocate();
  if (out.size() == 0) return;
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
  auto idx_layout = cuda::make_layout<1>(op_, ix.shape, {&ix.strides});
  const int64_t total = static_cast<int64_t>(out.size());
  cuda::DeviceError* err = cuda::device_error_record();
  const int code = cuda::op_code(op_);
  cuda::dispatch_bits(a.dtype.size(), [&](auto t) {
    using T = decltype(t);
    cuda::take_kernel<T><<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
        a.data<T>(), ix.raw(), ix.dtype.val, idx_layout, ix.contiguous, out.data<T>(), rest,
        static_cast<int64_t>(ix.size()), inner, a.strides[axis_], n, total, err, code, axis_);
  });
}

}  // namespace lathe
