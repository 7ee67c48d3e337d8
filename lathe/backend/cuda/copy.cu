// Copies on the GPU: strided-to-contiguous gathers, the view primitives,
// fills and ranges, and the explicit transfers between host and GPU.
#include <cstring>
#include <vector>

#include "lathe/backend/cuda/device_errors.h"
#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/creation.h"
#include "lathe/primitives/device.h"
#include "lathe/primitives/shape.h"

namespace lathe {

using detail::Node;

namespace cuda {

namespace {

template <typename T>
__global__ void gather_kernel(const T* src, T* dst, Layout<1> l, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[1];
    l.offsets(i, off);
    dst[i] = src[off[0]];
  }
}

// Up to 64 bytes of host data passed by value (to_device while recording a graph).
struct InlineBytes {
  unsigned char bytes[64];
};

__global__ void write_inline_kernel(unsigned char* dst, InlineBytes v, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) dst[i] = v.bytes[i];
}

template <typename T>
__global__ void fill_kernel(T* dst, T v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = v;
  }
}

template <typename T>
__global__ void arange_kernel(T* dst, double start, double step, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = store_c<T>(start + double(i) * step);
  }
}

template <typename T>
__global__ void scatter_kernel(const T* src, T* dst, Layout<2> l, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    l.offsets(i, off);
    dst[off[1]] = src[off[0]];
  }
}

// Edge padding: every output element reads the clamped input coordinate.
struct EdgeArgs {
  int ndim;
  int64_t out_shape[kMaxDims], in_shape[kMaxDims], in_strides[kMaxDims], low[kMaxDims];
};

template <typename T>
__global__ void pad_edge_kernel(const T* src, T* dst, EdgeArgs a, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, off = 0;
    for (int d = a.ndim - 1; d >= 0; --d) {
      int64_t c = rest % a.out_shape[d] - a.low[d];
      rest /= a.out_shape[d];
      c = c < 0 ? 0 : (c >= a.in_shape[d] ? a.in_shape[d] - 1 : c);
      off += c * a.in_strides[d];
    }
    dst[i] = src[off];
  }
}

void copy_into(const Node& in, Node& out) {
  out.allocate();
  copy_to_contiguous(in, out.raw());
}

}  // namespace

void copy_to_contiguous(const Node& src, void* dst) {
  const size_t n = src.size();
  if (n == 0) return;
  if (src.contiguous) {
    check(cudaMemcpyAsync(dst, src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice, current_stream()),
          "copy");
    return;
  }
  Layout<1> l = make_layout<1>("copy", src.shape, {&src.strides});
  dispatch_bits(src.dtype.size(), [&](auto t) {
    using T = decltype(t);
    gather_kernel<T><<<grid_for(n), 256, 0, current_stream()>>>(src.data<T>(), static_cast<T*>(dst),
                                                                l, static_cast<int64_t>(n));
  });
  check_launch("copy");
}

void copy_strided(const Node& src, void* dst_base, const Strides& dst_strides) {
  const size_t n = src.size();
  if (n == 0) return;
  Layout<2> l = make_layout<2>("copy", src.shape, {&src.strides, &dst_strides});
  dispatch_bits(src.dtype.size(), [&](auto t) {
    using T = decltype(t);
    scatter_kernel<T><<<grid_for(n), 256, 0, current_stream()>>>(
        src.data<T>(), static_cast<T*>(dst_base), l, static_cast<int64_t>(n));
  });
  check_launch("copy");
}

void fill(Node& out, double value) {
  const size_t n = out.size();
  if (n == 0) return;
  dispatch_bits(out.dtype.size(), [&](auto t) {
    using T = decltype(t);
    T v{};
    convert_elements(&value, float64, &v, out.dtype, 1);
    fill_kernel<T>
        <<<grid_for(n), 256, 0, current_stream()>>>(out.data<T>(), v, static_cast<int64_t>(n));
  });
  check_launch("fill");
}

void pad_edge(const Node& x, Node& out, const Shape& low) {
  const size_t n = out.size();
  const int nd = static_cast<int>(out.shape.size());
  if (nd > kMaxDims) throw Error("[pad] more than 8 dimensions are not supported on cuda yet");
  EdgeArgs a{};
  a.ndim = nd;
  for (int d = 0; d < nd; ++d) {
    a.out_shape[d] = out.shape[d];
    a.in_shape[d] = x.shape[d];
    a.in_strides[d] = x.strides[d];
    a.low[d] = low[d];
  }
  dispatch_bits(x.dtype.size(), [&](auto t) {
    using T = decltype(t);
    pad_edge_kernel<T><<<grid_for(n), 256, 0, current_stream()>>>(x.data<T>(), out.data<T>(), a,
                                                                  static_cast<int64_t>(n));
  });
  check_launch("pad");
}

}  // namespace cuda

// Views share the buffer: the CPU code only computes strides.
void Transpose::eval_cuda(const NodeList& in, Node& out) { eval_cpu(in, out); }
void Broadcast::eval_cuda(const NodeList& in, Node& out) { eval_cpu(in, out); }
void Slice::eval_cuda(const NodeList& in, Node& out) { eval_cpu(in, out); }
void AsStrided::eval_cuda(const NodeList& in, Node& out) { eval_cpu(in, out); }

void Reshape::eval_cuda(const NodeList& in, Node& out) {
  Strides st;
  if (cpu::reshape_strides(*in[0], out.shape, st)) {
    out.share(*in[0], st, in[0]->offset, in[0]->data_size);
  } else {
    cuda::copy_into(*in[0], out);
  }
}

void BitCast::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  if (x.contiguous) {
    out.share(x, row_strides(out.shape), x.offset, out.size());
  } else {
    out.allocate();
    cuda::copy_to_contiguous(x, out.raw());
  }
}

void Contiguous::eval_cuda(const NodeList& in, Node& out) {
  if (in[0]->contiguous && in[0]->data_size == in[0]->size()) {
    out.share(*in[0], row_strides(out.shape), in[0]->offset, in[0]->data_size);
  } else {
    cuda::copy_into(*in[0], out);
  }
}

void Full::eval_cuda(const NodeList&, Node& out) {
  out.allocate();
  cuda::fill(out, value_);
}

void Arange::eval_cuda(const NodeList&, Node& out) {
  out.allocate();
  const size_t n = out.size();
  if (n == 0) return;
  cuda::dispatch_device(out.dtype, [&](auto t) {
    using T = decltype(t);
    cuda::arange_kernel<T><<<cuda::grid_for(n), 256, 0, cuda::current_stream()>>>(
        out.data<T>(), start_, step_, static_cast<int64_t>(n));
  });
}

void ToDevice::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  cudaStream_t s = cuda::current_stream();
  out.allocate();
  if (out.nbytes() == 0) return;
  if (x.device == Device::cpu && out.device == Device::cuda) {
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    cuda::check(cudaStreamIsCapturing(s, &capturing), "to_device");
    if (capturing != cudaStreamCaptureStatusNone) {
      // Recorded into a device graph: a copy would read the host memory at every replay,
      // long after it is gone. Small values travel inside the kernel's arguments instead.
      if (!x.contiguous || out.nbytes() > sizeof(cuda::InlineBytes)) {
        throw Error("[to_device] a host-to-device copy of " + std::to_string(out.nbytes()) +
                    " bytes cannot be recorded in a device graph; copy it to the GPU first");
      }
      cuda::InlineBytes v{};
      std::memcpy(v.bytes, x.raw(), out.nbytes());
      cuda::write_inline_kernel<<<1, 32, 0, s>>>(static_cast<unsigned char*>(out.raw()), v,
                                                  static_cast<int>(out.nbytes()));
      return;
    }
    // Pageable host memory is staged before the call returns, so temporaries may go.
    std::vector<char> tmp;
    const void* src = x.raw();
    if (!x.contiguous) {
      tmp.resize(x.nbytes());
      cpu::gather_contiguous(x, tmp.data());
      src = tmp.data();
    }
    cuda::check(cudaMemcpyAsync(out.raw(), src, out.nbytes(), cudaMemcpyHostToDevice, s),
                "to_device");
    return;
  }
  if (x.device == Device::cuda && out.device == Device::cpu) {
    std::shared_ptr<Buffer> tmp;
    const void* src = x.raw();
    if (!x.contiguous) {
      tmp = cuda::scratch(x.nbytes());
      cuda::copy_to_contiguous(x, tmp->ptr());
      src = tmp->ptr();
    }
    cuda::check(cudaMemcpyAsync(out.raw(), src, out.nbytes(), cudaMemcpyDeviceToHost, s),
                "to_device");
    cuda::check(cudaStreamSynchronize(s), "to_device");
    cuda::raise_device_errors();
    return;
  }
  throw Error(std::string("[to_device] no copy from ") + device_name(x.device) + " to " +
              device_name(out.device));
}

}  // namespace lathe
