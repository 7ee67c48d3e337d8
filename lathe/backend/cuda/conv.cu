// CUDA kernel of the convolutions (forward and transposed, 1-3 spatial dims,
// channels-last, groups): a thread per output element sums its window in the
// compute type. The transposed form gathers, for each output position, the
// input positions whose scatter reaches it, so no atomics are needed.
#include <string>

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/primitives/conv.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

// Everything as 3 spatial dimensions (missing leading ones have size 1).
struct Geometry {
  int64_t batch, cin, cout, cig, cog;
  int64_t in[3], k[3], out[3], stride[3], pad[3], dil[3];
};

Geometry geometry(const Node& x, const Node& w, const Node& o, const ConvParams& p) {
  Geometry g{};
  const int ns = static_cast<int>(x.shape.size()) - 2;
  g.batch = x.shape[0];
  g.cin = x.shape.back();
  g.cout = w.shape[0];
  g.cig = g.cin / p.groups;
  g.cog = g.cout / p.groups;
  for (int i = 0; i < 3; ++i) {
    const int s = i - (3 - ns);
    g.in[i] = s < 0 ? 1 : x.shape[s + 1];
    g.k[i] = s < 0 ? 1 : w.shape[s + 1];
    g.out[i] = s < 0 ? 1 : o.shape[s + 1];
    g.stride[i] = s < 0 ? 1 : p.stride[s];
    g.pad[i] = s < 0 ? 0 : p.padding_lo[s];
    g.dil[i] = s < 0 ? 1 : p.dilation[s];
  }
  return g;
}

// The input coordinate that tap t of output coordinate o reads (forward), or
// the input coordinate whose tap t writes o (transposed); -1 when none.
__device__ __forceinline__ int64_t source(const Geometry& g, int d, int64_t o, int64_t t,
                                          bool transpose) {
  if (!transpose) {
    const int64_t i = o * g.stride[d] - g.pad[d] + t * g.dil[d];
    return i >= 0 && i < g.in[d] ? i : -1;
  }
  const int64_t num = o + g.pad[d] - t * g.dil[d];
  if (num < 0 || num % g.stride[d] != 0) return -1;
  const int64_t i = num / g.stride[d];
  return i < g.in[d] ? i : -1;
}

// x [batch, in..., cin], w [cout, k..., cig] -> o [batch, out..., cout].
template <typename T>
__global__ void conv_kernel(Geometry g, const T* x, const T* w, T* o, bool transpose,
                            int64_t total) {
  using A = compute_of<T>;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t co = e % g.cout;
    int64_t t = e / g.cout;
    const int64_t ow = t % g.out[2];
    t /= g.out[2];
    const int64_t oh = t % g.out[1];
    t /= g.out[1];
    const int64_t od = t % g.out[0], b = t / g.out[0];
    const int64_t grp = co / g.cog;
    A acc = 0;
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t id = source(g, 0, od, kd, transpose);
      if (id < 0) continue;
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        const int64_t ih = source(g, 1, oh, kh, transpose);
        if (ih < 0) continue;
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const int64_t iw = source(g, 2, ow, kw, transpose);
          if (iw < 0) continue;
          const T* xs =
              x + (((b * g.in[0] + id) * g.in[1] + ih) * g.in[2] + iw) * g.cin + grp * g.cig;
          const T* ws = w + ((co * g.k[0] + kd) * g.k[1] + kh) * g.k[2] * g.cig + kw * g.cig;
          for (int64_t c = 0; c < g.cig; ++c) acc += load_c(xs[c]) * load_c(ws[c]);
        }
      }
    }
    o[e] = store_c<T>(acc);
  }
}

// n's data row-major: its own buffer, or a dense copy kept alive by `keep`.
const void* row_major(const Node& n, std::shared_ptr<Buffer>& keep) {
  if (n.contiguous) return n.raw();
  keep = scratch(n.nbytes());
  copy_to_contiguous(n, keep->ptr());
  return keep->ptr();
}

}  // namespace
}  // namespace cuda

void Convolution::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  const Node& w = *in[1];
  out.allocate();
  if (out.size() == 0) return;
  if (x.dtype != out.dtype || w.dtype != out.dtype) {
    throw Error(std::string("[") + name() + "] inputs of dtype " + x.dtype.name() + " and " +
                w.dtype.name() + " for a " + out.dtype.name() + " output");
  }
  const cuda::Geometry g = cuda::geometry(x, w, out, p_);
  std::shared_ptr<Buffer> xk, wk;
  const void* xp = cuda::row_major(x, xk);
  const void* wp = cuda::row_major(w, wk);
  const int64_t total = static_cast<int64_t>(out.size());
  cuda::dispatch_device(out.dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_floating_point_v<cuda::compute_of<T>>) {
      throw Error(std::string("[") + name() + "] unsupported dtype " + out.dtype.name());
    } else {
      cuda::conv_kernel<T><<<cuda::grid_for(total), 256, 0, cuda::current_stream()>>>(
          g, static_cast<const T*>(xp), static_cast<const T*>(wp), out.data<T>(), p_.transpose,
          total);
    }
  });
  cuda::check(cudaGetLastError(), name());
}

}  // namespace lathe
