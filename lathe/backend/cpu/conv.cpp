// CPU convolution: im2col + BLAS gemm (float32 and float64; the 16-bit floats
// compute in float32). Transposed convolution multiplies first and scatters
// the products (col2im), so no zeros are ever inserted between input samples.
#include "lathe/primitives/conv.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lathe/backend/cpu/strided.h"

namespace lathe {

using detail::Node;

namespace {

// Everything as 3 spatial dimensions (missing leading ones have size 1).
struct Geometry {
  int64_t batch, cin, cout, groups, cig, cog;
  int64_t in[3], k[3], out[3], stride[3], pad[3], dil[3];
  int64_t kp() const { return k[0] * k[1] * k[2]; }
  int64_t in_sp() const { return in[0] * in[1] * in[2]; }
  int64_t out_sp() const { return out[0] * out[1] * out[2]; }
};

Geometry geometry(const Node& x, const Node& w, const Node& o, const ConvParams& p) {
  Geometry g{};
  const int ns = static_cast<int>(x.shape.size()) - 2;
  g.batch = x.shape[0];
  g.cin = x.shape.back();
  g.cout = w.shape[0];
  g.groups = p.groups;
  g.cig = g.cin / g.groups;
  g.cog = g.cout / g.groups;
  for (int i = 0; i < 3; ++i) {
    int s = i - (3 - ns);  // index into the op's spatial dims, negative: padding dim
    g.in[i] = s < 0 ? 1 : x.shape[s + 1];
    g.k[i] = s < 0 ? 1 : w.shape[s + 1];
    g.out[i] = s < 0 ? 1 : o.shape[s + 1];
    g.stride[i] = s < 0 ? 1 : p.stride[s];
    g.pad[i] = s < 0 ? 0 : p.padding_lo[s];
    g.dil[i] = s < 0 ? 1 : p.dilation[s];
  }
  return g;
}

// C[m, n] = A[m, k] * B[n, k]^T, row-major with leading dimensions.
void gemm_nt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
             int64_t ldb, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void gemm_nt(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
             int64_t ldb, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

// Enough rows of the column buffer to keep it near 16 MiB.
int64_t chunk_rows(int64_t row_len, int64_t total, size_t elem) {
  const int64_t budget = (int64_t(16) << 20) / static_cast<int64_t>(elem);
  return std::clamp<int64_t>(budget / std::max<int64_t>(row_len, 1), 1,
                             std::max<int64_t>(total, 1));
}

// Rows [r0, r1) of the im2col matrix of group grp: row (b, od, oh, ow) holds the
// kp * cig input values its kernel window sees.
template <typename T>
void im2col(const Geometry& g, const T* x, int64_t grp, int64_t r0, int64_t r1, T* col) {
  const int64_t cig = g.cig, row_len = g.kp() * cig;
  for (int64_t r = r0; r < r1; ++r) {
    int64_t ow = r % g.out[2], t = r / g.out[2];
    int64_t oh = t % g.out[1];
    t /= g.out[1];
    int64_t od = t % g.out[0], b = t / g.out[0];
    T* dst = col + (r - r0) * row_len;
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
        for (int64_t kw = 0; kw < g.k[2]; ++kw, dst += cig) {
          int64_t iw = ow * g.stride[2] - g.pad[2] + kw * g.dil[2];
          if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2]) {
            std::fill(dst, dst + cig, T(0));
            continue;
          }
          const T* src =
              x + (((b * g.in[0] + id) * g.in[1] + ih) * g.in[2] + iw) * g.cin + grp * cig;
          std::copy(src, src + cig, dst);
        }
      }
    }
  }
}

// x [batch, in..., cin], w [cout, k..., cig] -> o [batch, out..., cout].
template <typename T>
void conv_forward(const Geometry& g, const T* x, const T* w, T* o) {
  const int64_t rows = g.batch * g.out_sp(), kdim = g.kp() * g.cig;
  const bool pointwise = g.kp() == 1 && g.in_sp() == g.out_sp() && g.pad[0] == 0 && g.pad[1] == 0 &&
                         g.pad[2] == 0 && g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
  if (pointwise) {  // a 1x1 convolution is a matmul over the channels
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      gemm_nt(rows, g.cog, g.cig, x + grp * g.cig, g.cin, w + grp * g.cog * g.cig, g.cig,
              o + grp * g.cog, g.cout);
    }
    return;
  }
  const int64_t step = chunk_rows(kdim, rows, sizeof(T));
  std::vector<T> col(step * kdim);
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    const int64_t r1 = std::min(rows, r0 + step);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      im2col(g, x, grp, r0, r1, col.data());
      gemm_nt(r1 - r0, g.cog, kdim, col.data(), kdim, w + grp * g.cog * kdim, kdim,
              o + r0 * g.cout + grp * g.cog, g.cout);
    }
  }
}

// Scatter form: every input position multiplies the kernel and adds its
// contributions into the output positions i * stride - pad + k * dil.
template <typename T>
void conv_transposed(const Geometry& g, const T* x, const T* w, T* o) {
  const int64_t kp = g.kp(), cog = g.cog, cig = g.cig;
  // wt[grp][k][co][c] = w[grp * cog + co][k][c]: the products of one input row
  // then come out grouped by kernel tap, each a contiguous run of cog channels.
  std::vector<T> wt(static_cast<size_t>(g.cout * kp * cig));
  for (int64_t grp = 0; grp < g.groups; ++grp)
    for (int64_t co = 0; co < cog; ++co)
      for (int64_t k = 0; k < kp; ++k)
        std::copy_n(w + ((grp * cog + co) * kp + k) * cig, cig,
                    wt.data() + ((grp * kp + k) * cog + co) * cig);
  std::fill(o, o + g.batch * g.out_sp() * g.cout, T(0));
  const int64_t rows = g.batch * g.in_sp(), row_len = kp * cog;
  const int64_t step = chunk_rows(row_len, rows, sizeof(T));
  std::vector<T> prod(step * row_len);
  for (int64_t r0 = 0; r0 < rows; r0 += step) {
    const int64_t r1 = std::min(rows, r0 + step);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      gemm_nt(r1 - r0, row_len, cig, x + r0 * g.cin + grp * cig, g.cin,
              wt.data() + grp * kp * cog * cig, cig, prod.data(), row_len);
      for (int64_t r = r0; r < r1; ++r) {
        int64_t iw = r % g.in[2], t = r / g.in[2];
        int64_t ih = t % g.in[1];
        t /= g.in[1];
        int64_t id = t % g.in[0], b = t / g.in[0];
        const T* src = prod.data() + (r - r0) * row_len;
        for (int64_t kd = 0; kd < g.k[0]; ++kd) {
          int64_t od = id * g.stride[0] - g.pad[0] + kd * g.dil[0];
          bool d_in = od >= 0 && od < g.out[0];
          for (int64_t kh = 0; kh < g.k[1]; ++kh) {
            int64_t oh = ih * g.stride[1] - g.pad[1] + kh * g.dil[1];
            bool h_in = d_in && oh >= 0 && oh < g.out[1];
            for (int64_t kw = 0; kw < g.k[2]; ++kw, src += cog) {
              int64_t ow = iw * g.stride[2] - g.pad[2] + kw * g.dil[2];
              if (!h_in || ow < 0 || ow >= g.out[2]) continue;
              T* dst =
                  o + (((b * g.out[0] + od) * g.out[1] + oh) * g.out[2] + ow) * g.cout + grp * cog;
              for (int64_t c = 0; c < cog; ++c) dst[c] += src[c];
            }
          }
        }
      }
    }
  }
}

// A row-major T view of n: the node's own data when it already is one, else a converted copy.
template <typename T>
const T* dense(const Node& n, std::vector<T>& buf) {
  if (n.contiguous && n.dtype == dtype_of<T>::value) return n.data<T>();
  std::vector<char> raw;
  const void* src = n.raw();
  if (!n.contiguous) {
    raw.resize(n.nbytes());
    cpu::gather_contiguous(n, raw.data());
    src = raw.data();
  }
  buf.resize(n.size());
  convert_elements(src, n.dtype, buf.data(), dtype_of<T>::value, n.size());
  return buf.data();
}

template <typename T>
void run(const Geometry& g, bool transpose, const Node& xn, const Node& wn, Node& out) {
  std::vector<T> xb, wb, ob;
  const T* x = dense(xn, xb);
  const T* w = dense(wn, wb);
  const bool direct = out.dtype == dtype_of<T>::value;
  if (!direct) ob.resize(out.size());
  T* o = direct ? out.data<T>() : ob.data();
  if (transpose) {
    conv_transposed(g, x, w, o);
  } else {
    conv_forward(g, x, w, o);
  }
  if (!direct) convert_elements(ob.data(), dtype_of<T>::value, out.raw(), out.dtype, out.size());
}

}  // namespace

void Convolution::eval_cpu(const NodeList& in, Node& out) {
  out.allocate();
  if (out.size() == 0) return;
  const Geometry g = geometry(*in[0], *in[1], out, p_);
  if (out.dtype == float64) {
    run<double>(g, p_.transpose, *in[0], *in[1], out);
  } else if (out.dtype.is_floating()) {
    run<float>(g, p_.transpose, *in[0], *in[1], out);
  } else {
    throw Error(std::string("[") + name() + "] unsupported dtype " + out.dtype.name());
  }
}

}  // namespace lathe
