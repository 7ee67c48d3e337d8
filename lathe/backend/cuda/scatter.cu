// CUDA kernels of take_along_axis, put_along_axis, scatter and scatter_add.
// Indices are read back and checked on the host (an out-of-range index throws
// naming the op, as on the CPU), then uploaded as wrapped int64. Scatter walks
// the indices in order per destination line, so repeated indices give the CPU's
// result (last write wins; sums in the CPU's order).
#include <string>
#include <vector>

#include "lathe/backend/cuda/device_errors.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/indexing.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

// The indices as row-major int64 on the device, negatives wrapped; throws on
// any index outside [-n, n) before anything is written.
std::shared_ptr<Buffer> checked_indices(const Node& ix, int64_t n, const char* op, int axis) {
  std::vector<int64_t> idx(ix.size());
  if (idx.empty()) return nullptr;
  std::vector<char> raw(ix.nbytes());
  std::shared_ptr<Buffer> dense;
  const void* src = ix.raw();
  if (!ix.contiguous) {
    dense = scratch(ix.nbytes());
    copy_to_contiguous(ix, dense->ptr());
    src = dense->ptr();
  }
  cudaStream_t s = current_stream();
  check(cudaMemcpyAsync(raw.data(), src, raw.size(), cudaMemcpyDeviceToHost, s), op);
  check(cudaStreamSynchronize(s), op);
  convert_elements(raw.data(), ix.dtype, idx.data(), int64, idx.size());
  for (auto& i : idx) {
    const int64_t k = i < 0 ? i + n : i;
    if (k < 0 || k >= n) {
      throw Error(std::string("[") + op + "] index " + std::to_string(i) +
                  " is out of range for axis " + std::to_string(axis) + " of size " +
                  std::to_string(n));
    }
    i = k;
  }
  auto dev = scratch(idx.size() * sizeof(int64_t));
  check(cudaMemcpyAsync(dev->ptr(), idx.data(), idx.size() * sizeof(int64_t),
                        cudaMemcpyHostToDevice, s),
        op);
  return dev;
}

// The indices as row-major int64 on the device, negatives wrapped, by a kernel: one
// outside [-n, n) becomes -1 (nothing is written for it) and is reported through the device
// error record (thrown at the next wait on the GPU). The host never waits, so this also runs
// inside a recorded device graph.
__global__ void wrap_indices_kernel(const void* idx, Dtype::Val dtype, Layout<1> layout,
                                    bool linear, int64_t m, int64_t n, int64_t* out,
                                    DeviceError* err, int op, int axis) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < m;
       e += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[1] = {e};
    if (!linear) layout.offsets(e, off);
    const AnyValue v = load_any(idx, off[0], dtype);
    const int64_t i = v.floating ? static_cast<int64_t>(v.f) : v.i;
    int64_t k = i < 0 ? i + n : i;
    if (k < 0 || k >= n) {
      report_index_error(err, op, i, n, axis);
      k = -1;
    }
    out[e] = k;
  }
}

std::shared_ptr<Buffer> device_indices(const Node& ix, int64_t n, const char* op, int axis) {
  const int64_t m = static_cast<int64_t>(ix.size());
  if (m == 0) return nullptr;
  auto dev = scratch(static_cast<size_t>(m) * sizeof(int64_t));
  auto layout = make_layout<1>(op, ix.shape, {&ix.strides});
  wrap_indices_kernel<<<grid_for(m), 256, 0, current_stream()>>>(
      ix.raw(), ix.dtype.val, layout, ix.contiguous, m, n, static_cast<int64_t*>(dev->ptr()),
      device_error_record(), op_code(op), axis);
  check(cudaGetLastError(), op);
  return dev;
}

// out = a, in out's buffer (a's own when donatable), row-major.
void copy_or_donate(Node& a, Node& out) {
  if (a.donatable() && a.dtype == out.dtype && a.shape == out.shape) {
    out.donate_from(a);
  } else {
    out.allocate();
    if (out.size() > 0) copy_to_contiguous(a, out.raw());
  }
}

template <typename T>
__global__ void take_along_kernel(const T* a, const int64_t* idx, T* out, Layout<1> la,
                                  int64_t step, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[1];
    la.offsets(e, off);
    out[e] = a[off[0] + idx[e] * step];
  }
}

template <typename T>
__global__ void put_along_kernel(T* out, const int64_t* idx, const T* v, Layout<2> l, int64_t step,
                                 int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    l.offsets(e, off);
    out[off[0] + idx[e] * step] = v[off[1]];
  }
}

// One thread per (o, r) destination line: updates row (o, j) goes to slab idx[j].
template <typename T>
__global__ void scatter_kernel(T* out, const int64_t* idx, const T* upd, int64_t pre, int64_t n,
                               int64_t m, int64_t inner, bool add) {
  const int64_t lines = pre * inner;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < lines;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = e / inner, r = e % inner;
    for (int64_t j = 0; j < m; ++j) {
      if (idx[j] < 0) continue;  // out of range: reported, not written
      T* d = out + (o * n + idx[j]) * inner + r;
      const T u = upd[(o * m + j) * inner + r];
      if (!add) {
        *d = u;
      } else if constexpr (std::is_same_v<T, bool>) {
        *d = *d || u;
      } else {
        *d = store_c<T>(load_c(*d) + load_c(u));
      }
    }
  }
}

}  // namespace
}  // namespace cuda

void TakeAlongAxis::eval_cuda(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& ix = *in[1];
  auto idx = cuda::checked_indices(ix, a.shape[axis_], name(), axis_);
  out.allocate();
  if (out.size() == 0) return;
  Strides as = a.strides;
  const int64_t step = as[axis_];
  as[axis_] = 0;
  auto la = cuda::make_layout<1>(name(), out.shape, {&as});
  const int64_t total = static_cast<int64_t>(out.size());
  cuda::dispatch_bits(a.dtype.size(), [&](auto t) {
    using T = decltype(t);
    cuda::take_along_kernel<T><<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
        a.data<T>(), static_cast<const int64_t*>(idx->ptr()), out.data<T>(), la, step, total);
  });
  cuda::check(cudaGetLastError(), name());
}

void PutAlongAxis::eval_cuda(const NodeList& in, Node& out) {
  Node& a = *in[0];
  const Node& ix = *in[1];
  const Node& values = *in[2];
  auto idx = cuda::checked_indices(ix, a.shape[axis_], name(), axis_);
  cuda::copy_or_donate(a, out);
  if (!idx) return;
  Strides os = row_strides(out.shape);
  const int64_t step = os[axis_];
  os[axis_] = 0;
  auto l = cuda::make_layout<2>(name(), ix.shape, {&os, &values.strides});
  const int64_t total = static_cast<int64_t>(ix.size());
  cuda::dispatch_bits(out.dtype.size(), [&](auto t) {
    using T = decltype(t);
    cuda::put_along_kernel<T><<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
        out.data<T>(), static_cast<const int64_t*>(idx->ptr()), values.data<T>(), l, step, total);
  });
  cuda::check(cudaGetLastError(), name());
}

void Scatter::eval_cuda(const NodeList& in, Node& out) {
  Node& a = *in[0];
  const Node& ix = *in[1];
  const Node& updates = *in[2];
  auto idx = cuda::device_indices(ix, a.shape[axis_], name(), axis_);
  cuda::copy_or_donate(a, out);
  if (!idx || updates.size() == 0) return;
  const int nd = static_cast<int>(out.shape.size());
  int64_t pre = 1, inner = 1;
  for (int d = 0; d < axis_; ++d) pre *= out.shape[d];
  for (int d = axis_ + 1; d < nd; ++d) inner *= out.shape[d];
  const int64_t n = out.shape[axis_], m = static_cast<int64_t>(ix.size());
  std::shared_ptr<Buffer> dense;
  const void* src = updates.raw();
  if (!updates.contiguous) {
    dense = cuda::scratch(updates.nbytes());
    cuda::copy_to_contiguous(updates, dense->ptr());
    src = dense->ptr();
  }
  const bool add = reduce_ == ScatterReduce::add;
  const int64_t lines = pre * inner;
  cuda::dispatch_device(out.dtype, [&](auto t) {
    using T = decltype(t);
    cuda::scatter_kernel<T><<<cuda::grid_for(lines), 256, 0, cuda::current_stream()>>>(
        out.data<T>(), static_cast<const int64_t*>(idx->ptr()), static_cast<const T*>(src), pre, n,
        m, inner, add);
  });
  cuda::check(cudaGetLastError(), name());
}

}  // namespace lathe
