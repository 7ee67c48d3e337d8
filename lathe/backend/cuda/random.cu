// CUDA kernels of the random primitives: one thread per element computes the
// threefry block of its index, mapped to values as lathe/primitives/random.h
// documents, so the GPU draws the CPU's numbers (bits, uniform and randint
// bit for bit; normal and gumbel to the last bits of the float64 libm).
#include <cmath>
#include <limits>

#include "lathe/backend/cuda/kernel_utils.cuh"
#include "lathe/core/half.h"
#include "lathe/primitives/random.h"

namespace lathe {

using detail::Node;

namespace cuda {
namespace {

__device__ __forceinline__ uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// threefry-2x32 with 20 rounds, as lathe/primitives/threefry.h (host version).
__device__ __forceinline__ uint2 block(uint2 key, uint64_t index) {
  const int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  const uint32_t ks[3] = {key.x, key.y, key.x ^ key.y ^ 0x1BD11BDAu};
  uint32_t x0 = static_cast<uint32_t>(index >> 32) + ks[0];
  uint32_t x1 = static_cast<uint32_t>(index) + ks[1];
#pragma unroll
  for (int r = 0; r < 20; ++r) {
    x0 += x1;
    x1 = rotl(x1, rot[r % 8]);
    x1 ^= x0;
    if (r % 4 == 3) {
      const uint32_t s = static_cast<uint32_t>(r / 4 + 1);
      x0 += ks[s % 3];
      x1 += ks[(s + 1) % 3] + s;
    }
  }
  return make_uint2(x0, x1);
}

__device__ __forceinline__ uint2 read_key(const uint32_t* k, int64_t stride) {
  return make_uint2(k[0], k[stride]);
}

__device__ __forceinline__ uint64_t word64(uint2 y) { return (uint64_t(y.x) << 32) | y.y; }

__device__ __forceinline__ double open_unit(uint2 y) {
  return (double(word64(y) >> 11) + 0.5) * 0x1p-53;
}

// t > 0 with Phi(-t) = p, p in (0, 0.5]: Winitzki's estimate refined by Halley
// steps on the erfc form (the CPU's method).
__device__ double upper_quantile(double p) {
  const double a = 0.147;
  const double l = log(4.0 * p * (1.0 - p));
  const double c = 2.0 / (M_PI * a) + 0.5 * l;
  double t = M_SQRT2 * sqrt(fmax(0.0, sqrt(c * c - l / a) - c));
  for (int it = 0; it < 4; ++it) {
    const double f = 0.5 * erfc(t * M_SQRT1_2) - p;
    const double phi = exp(-0.5 * t * t) * 0.39894228040143267794;
    const double step = f / (0.5 * f * t - phi);
    t -= step;
    if (fabs(step) <= 1e-16 * fmax(1.0, t)) break;
  }
  return t;
}

__device__ __forceinline__ double normal_quantile(double u) {
  return u < 0.5 ? -upper_quantile(u) : upper_quantile(1.0 - u);
}

// double to T as the CPU's T(double): 16-bit floats through float.
template <typename T>
__device__ __forceinline__ T from_double(double v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else {
    return static_cast<T>(v);
  }
}

// The number of significant bits of T's [0, 1) grid.
template <typename T>
inline constexpr int kUnitBits = std::is_same_v<T, double>   ? 53
                                 : std::is_same_v<T, float>  ? 24
                                 : std::is_same_v<T, __half> ? 11
                                                             : 8;

__global__ void bits_kernel(const uint32_t* k, int64_t ks, void* out, bool bytes, bool split,
                            int64_t n) {
  const uint2 key = read_key(k, ks);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint2 y = block(key, static_cast<uint64_t>(i));
    if (split) {
      static_cast<uint32_t*>(out)[2 * i] = y.x;
      static_cast<uint32_t*>(out)[2 * i + 1] = y.y;
    } else if (bytes) {
      static_cast<uint8_t*>(out)[i] = static_cast<uint8_t>(y.x ^ y.y);
    } else {
      static_cast<uint32_t*>(out)[i] = y.x ^ y.y;
    }
  }
}

template <typename T>
__global__ void randint_kernel(const uint32_t* k, int64_t ks, T* out, int64_t n, int64_t low,
                               uint64_t span) {
  const uint2 key = read_key(k, ks);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t off = __umul64hi(word64(block(key, static_cast<uint64_t>(i))), span);
    out[i] = static_cast<T>(static_cast<int64_t>(uint64_t(low) + off));
  }
}

template <typename T>
__global__ void float_kernel(const uint32_t* k, int64_t ks, T* out, int64_t n, RandomKind kind,
                             double a, double b, double top) {
  const uint2 key = read_key(k, ks);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint2 y = block(key, static_cast<uint64_t>(i));
    if (kind == RandomKind::uniform) {
      double u;
      if constexpr (kUnitBits<T> == 53) {
        u = double(word64(y) >> 11) * 0x1p-53;
      } else {
        u = ldexp(double((y.x ^ y.y) >> (32 - kUnitBits<T>)), -kUnitBits<T>);
      }
      const T v = from_double<T>(a + (b - a) * u);
      out[i] = static_cast<double>(load_c(v)) >= b ? from_double<T>(top) : v;
    } else if (kind == RandomKind::normal) {
      out[i] = from_double<T>(a + b * normal_quantile(open_unit(y)));
    } else {
      out[i] = from_double<T>(-log(-log(open_unit(y))));
    }
  }
}

// Sample s of row r: argmax over j of logits + gumbel noise; the first best wins.
__global__ void categorical_kernel(const void* logits, Dtype::Val dt, const uint32_t* k, int64_t ks,
                                   int32_t* out, int64_t rows, int64_t v, int64_t inner,
                                   int64_t samples) {
  __shared__ double best_s[256];
  __shared__ int64_t best_j[256];
  const uint2 key = read_key(k, ks);
  for (int64_t task = blockIdx.x; task < rows * samples; task += gridDim.x) {
    const int64_t r = task / samples, s = task % samples;
    const int64_t row = (r / inner) * v * inner + (r % inner);
    const uint64_t base = static_cast<uint64_t>(task * v);
    double best = -INFINITY;
    int64_t arg = INT64_MAX;
    for (int64_t j = threadIdx.x; j < v; j += blockDim.x) {
      const double score =
          load_double(logits, row + j * inner, dt) - log(-log(open_unit(block(key, base + j))));
      if (score > best || (score == best && j < arg)) {
        best = score;
        arg = j;
      }
    }
    best_s[threadIdx.x] = best;
    best_j[threadIdx.x] = arg;
    __syncthreads();
    for (unsigned h = blockDim.x / 2; h > 0; h >>= 1) {
      if (threadIdx.x < h) {
        const double o = best_s[threadIdx.x + h];
        const int64_t oj = best_j[threadIdx.x + h];
        if (o > best_s[threadIdx.x] || (o == best_s[threadIdx.x] && oj < best_j[threadIdx.x])) {
          best_s[threadIdx.x] = o;
          best_j[threadIdx.x] = oj;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      const int64_t j = best_j[0];
      out[r * samples + s] = j == INT64_MAX ? 0 : static_cast<int32_t>(j);
    }
    __syncthreads();
  }
}

template <typename H>
double host_double(H v) {
  if constexpr (std::is_floating_point_v<H>) {
    return static_cast<double>(v);
  } else {
    return static_cast<double>(static_cast<float>(v));
  }
}

// The largest value of the host type H below high, as a double.
template <typename H>
double largest_below(double high) {
  H top = H(static_cast<float>(high));
  if constexpr (std::is_floating_point_v<H>) top = H(high);
  while (host_double(top) >= high) {
    if constexpr (std::is_floating_point_v<H>) {
      top = std::nextafter(top, -std::numeric_limits<H>::infinity());
    } else {
      uint16_t bits = top.bits;
      if ((bits & 0x7fffu) == 0) {
        bits = 0x8001u;
      } else if (bits & 0x8000u) {
        ++bits;
      } else {
        --bits;
      }
      top = H::from_bits(bits);
    }
  }
  return host_double(top);
}

}  // namespace
}  // namespace cuda

void RandomDraw::eval_cuda(const NodeList& in, Node& out) {
  const Node& key = *in[0];
  out.allocate();
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  const uint32_t* k = key.data<uint32_t>();
  const int64_t ks = key.strides[0];
  cudaStream_t st = cuda::current_stream();
  const unsigned grid = cuda::grid_for(n);
  switch (kind_) {
    case RandomKind::bits:
      cuda::bits_kernel<<<grid, 256, 0, st>>>(k, ks, out.raw(), out.dtype == uint8, false, n);
      break;
    case RandomKind::split:
      cuda::bits_kernel<<<cuda::grid_for(n / 2 + 1), 256, 0, st>>>(k, ks, out.raw(), false, true,
                                                                   n / 2);
      break;
    case RandomKind::randint:
      cuda::dispatch_device(out.dtype, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          cuda::randint_kernel<T><<<grid, 256, 0, st>>>(k, ks, out.data<T>(), n, ilow_,
                                                        uint64_t(ihigh_) - uint64_t(ilow_));
        } else {
          throw Error(std::string("[randint] unsupported dtype ") + out.dtype.name());
        }
      });
      break;
    default: {
      double top = 0;
      if (kind_ == RandomKind::uniform) {
        switch (out.dtype.val) {
          case Dtype::Val::float16: top = cuda::largest_below<float16_t>(b_); break;
          case Dtype::Val::bfloat16: top = cuda::largest_below<bfloat16_t>(b_); break;
          case Dtype::Val::float32: top = cuda::largest_below<float>(b_); break;
          default: top = cuda::largest_below<double>(b_); break;
        }
      }
      cuda::dispatch_device(out.dtype, [&](auto t) {
        using T = decltype(t);
        if constexpr (!std::is_floating_point_v<cuda::compute_of<T>>) {
          throw Error(std::string("[") + name() + "] unsupported dtype " + out.dtype.name());
        } else {
          cuda::float_kernel<T><<<grid, 256, 0, st>>>(k, ks, out.data<T>(), n, kind_, a_, b_, top);
        }
      });
    }
  }
  cuda::check(cudaGetLastError(), name());
}

void Categorical::eval_cuda(const NodeList& in, Node& out) {
  const Node& logits = *in[0];
  const Node& key = *in[1];
  out.allocate();
  if (out.size() == 0) return;
  std::shared_ptr<Buffer> dense;
  const void* src = logits.raw();
  if (!logits.contiguous) {
    dense = cuda::scratch(logits.nbytes());
    cuda::copy_to_contiguous(logits, dense->ptr());
    src = dense->ptr();
  }
  const int64_t v = logits.shape[axis_];
  int64_t inner = 1;
  for (size_t d = axis_ + 1; d < logits.shape.size(); ++d) inner *= logits.shape[d];
  const int64_t rows = v ? static_cast<int64_t>(logits.size()) / v : 0;
  const int64_t samples = num_samples_ > 0 ? num_samples_ : 1;
  if (rows == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(rows * samples, 65535));
  cuda::categorical_kernel<<<blocks, 256, 0, cuda::current_stream()>>>(
      src, logits.dtype.val, key.data<uint32_t>(), key.strides[0], out.data<int32_t>(), rows, v,
      inner, samples);
  cuda::check(cudaGetLastError(), name());
}

}  // namespace lathe
