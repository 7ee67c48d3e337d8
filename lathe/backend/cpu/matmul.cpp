// CPU matrix products through OpenBLAS. Operands that BLAS can read as they are
// (row-major, or a transposed view passed as a trans flag) are not copied;
// 16-bit weights stay 16-bit: gemv kernels stream them for M = 1 and
// gemm_16bit_b widens them panel by panel for M > 1; only a weight that several
// products of one call reuse is converted to float32 once as a whole.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lathe/backend/cpu/gemm16.h"
#include "lathe/backend/cpu/gemv.h"
#include "lathe/backend/cpu/strided.h"
#include "lathe/primitives/linalg.h"

namespace lathe {

using detail::Node;

namespace {

bool is_16bit(Dtype d) { return d == float16 || d == bfloat16; }

// A stack of matrices as BLAS reads them.
struct Operand {
  const char* base = nullptr;
  Dtype dtype = float32;
  Shape batch_shape;      // the operand's own batch dims
  Strides batch_strides;  // in elements
  bool trans = false;     // stored column-major (e.g. a transposed view)
  int64_t ld = 1;
  std::vector<double> storage;  // owns converted data (double: aligned for any dtype)

  const char* at(int64_t elem_offset) const { return base + elem_offset * int64_t(dtype.size()); }
};

// How BLAS can read a rows x cols matrix with element strides (sr, sc), if at all.
bool blas_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, bool& trans, int64_t& ld) {
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= std::max<int64_t>(cols, 1))) {
    trans = false;
    ld = rows == 1 ? std::max<int64_t>(cols, 1) : sr;
    return true;
  }
  if ((rows == 1 || sr == 1) && (cols == 1 || sc >= std::max<int64_t>(rows, 1))) {
    trans = true;
    ld = cols == 1 ? std::max<int64_t>(rows, 1) : sc;
    return true;
  }
  return false;
}

// Element offsets of every batch index of `shape` (row-major order) under `strides`.
std::vector<int64_t> batch_offsets(const Shape& shape, const Strides& strides) {
  std::vector<int64_t> offs{0};
  for (size_t d = 0; d < shape.size(); ++d) {
    std::vector<int64_t> next;
    next.reserve(offs.size() * shape[d]);
    for (int64_t o : offs) {
      for (int64_t i = 0; i < shape[d]; ++i) next.push_back(o + i * strides[d]);
    }
    offs = std::move(next);
  }
  return offs;
}

// Strides that broadcast an operand's batch dims to `batch` (size-1 dims get 0).
Strides broadcast_batch(const Operand& op, const Shape& batch) {
  Strides s(batch.size(), 0);
  size_t k = op.batch_shape.size();
  for (size_t i = 0; i < k; ++i) {
    size_t d = batch.size() - k + i;
    if (op.batch_shape[i] != 1) s[d] = op.batch_strides[i];
  }
  return s;
}

Operand direct_operand(const Node& x) {
  Operand op;
  op.base = static_cast<const char*>(x.raw());
  op.dtype = x.dtype;
  size_t nb = x.shape.size() - 2;
  op.batch_shape.assign(x.shape.begin(), x.shape.begin() + nb);
  op.batch_strides.assign(x.strides.begin(), x.strides.begin() + nb);
  return op;
}

template <typename S, typename D>
void pack_typed(const Node& x, const std::vector<int64_t>& offs, int64_t rows, int64_t cols,
                bool trans, D* dst) {
  const S* src = x.data<S>();
  const int64_t sr = x.strides[x.shape.size() - 2], sc = x.strides.back();
  for (int64_t off : offs) {
    const S* m = src + off;
    if (trans) {
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t i = 0; i < rows; ++i) dst[j * rows + i] = static_cast<D>(m[i * sr + j * sc]);
    } else {
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = static_cast<D>(m[i * sr + j * sc]);
    }
    dst += rows * cols;
  }
}

// The operand as BLAS input of dtype `to`: its own memory when possible, else a
// converted dense copy that keeps the memory order (a transposed view stays
// column-major, so its copy reads and writes sequentially).
Operand make_operand(const Node& x, Dtype to) {
  const size_t nd = x.shape.size();
  const int64_t rows = x.shape[nd - 2], cols = x.shape[nd - 1];
  const int64_t sr = x.strides[nd - 2], sc = x.strides[nd - 1];
  Operand op = direct_operand(x);
  if (x.dtype == to && blas_layout(rows, cols, sr, sc, op.trans, op.ld)) return op;

  op.dtype = to;
  op.trans = sr == 1 && sc != 1 && rows > 1;
  op.ld = std::max<int64_t>(op.trans ? rows : cols, 1);
  std::vector<int64_t> offs = batch_offsets(op.batch_shape, op.batch_strides);
  size_t n = offs.size() * rows * cols;
  op.storage.resize((n * to.size() + sizeof(double) - 1) / sizeof(double) + 1);
  dispatch_dtype(x.dtype, [&](auto s) {
    using S = decltype(s);
    if constexpr (std::is_floating_point_v<compute_t<S>>) {
      if (to == float64) {
        pack_typed<S, double>(x, offs, rows, cols, op.trans,
                              reinterpret_cast<double*>(op.storage.data()));
      } else {
        pack_typed<S, float>(x, offs, rows, cols, op.trans,
                             reinterpret_cast<float*>(op.storage.data()));
      }
    } else {
      throw Error(std::string("[matmul] unsupported dtype ") + x.dtype.name());
    }
  });
  op.base = reinterpret_cast<const char*>(op.storage.data());
  Strides dense = row_strides(op.batch_shape);
  for (auto& s : dense) s *= rows * cols;
  op.batch_strides = dense;
  return op;
}

struct Dims {
  int64_t m, n, k;
};

// C[m, n] (row-major, ldc = n) = alpha * A @ B + beta * C for one product.
template <typename T>
void gemm_one(const Operand& A, int64_t a_off, const Operand& B, int64_t b_off, T* C, Dims d,
              float alpha, float beta) {
  const auto ta = A.trans ? CblasTrans : CblasNoTrans;
  const auto tb = B.trans ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, double>) {
    auto pa = reinterpret_cast<const double*>(A.at(a_off));
    auto pb = reinterpret_cast<const double*>(B.at(b_off));
    if (d.m == 1) {
      int64_t incx = A.trans ? A.ld : 1;
      if (B.trans) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, d.n, d.k, alpha, pb, B.ld, pa, incx, beta, C, 1);
      } else {
        cblas_dgemv(CblasRowMajor, CblasTrans, d.k, d.n, alpha, pb, B.ld, pa, incx, beta, C, 1);
      }
      return;
    }
    cblas_dgemm(CblasRowMajor, ta, tb, d.m, d.n, d.k, alpha, pa, A.ld, pb, B.ld, beta, C,
                std::max<int64_t>(d.n, 1));
  } else {
    auto pa = reinterpret_cast<const float*>(A.at(a_off));
    if (B.dtype != float32 && d.m > 1) {
      cpu::gemm_16bit_b(A.trans, pa, A.ld, B.dtype, B.at(b_off), B.trans, B.ld, d.m, d.n, d.k,
                        alpha, beta, C, std::max<int64_t>(d.n, 1));
      return;
    }
    if (B.dtype != float32) {
      // Batch-1 with 16-bit weights; A was converted to a dense float32 row.
      if (B.trans) {
        cpu::gemv_rows(B.dtype, B.at(b_off), B.ld, d.n, d.k, pa, C, alpha, beta);
      } else {
        cpu::gemv_cols(B.dtype, B.at(b_off), B.ld, d.k, d.n, pa, C, alpha, beta);
      }
      return;
    }
    auto pb = reinterpret_cast<const float*>(B.at(b_off));
    if (d.m == 1) {
      int64_t incx = A.trans ? A.ld : 1;
      if (B.trans) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, d.n, d.k, alpha, pb, B.ld, pa, incx, beta, C, 1);
      } else {
        cblas_sgemv(CblasRowMajor, CblasTrans, d.k, d.n, alpha, pb, B.ld, pa, incx, beta, C, 1);
      }
      return;
    }
    cblas_sgemm(CblasRowMajor, ta, tb, d.m, d.n, d.k, alpha, pa, A.ld, pb, B.ld, beta, C,
                std::max<int64_t>(d.n, 1));
  }
}

// Whether every product uses the same B and the As are stacked rows, so that the
// products run as one tall one.
bool foldable(const Operand& A, const std::vector<int64_t>& a_offs,
              const std::vector<int64_t>& b_offs, Dims d) {
  bool fold = a_offs.size() > 1 && !A.trans;
  for (size_t p = 1; fold && p < a_offs.size(); ++p) {
    fold = b_offs[p] == b_offs[0] && a_offs[p] - a_offs[0] == int64_t(p) * d.m * A.ld;
  }
  return fold;
}

// Writes c (broadcast to out's shape) into dst as T.
template <typename T>
void fill_from(const Node& c, const Shape& shape, T* dst) {
  Strides sc = broadcast_strides(c, shape), so = row_strides(shape);
  dispatch_dtype(c.dtype, [&](auto t) {
    using S = decltype(t);
    const S* src = c.data<S>();
    cpu::for_each_row<2>(shape, {&sc, &so}, [&](auto off, int64_t n, auto st) {
      for (int64_t i = 0; i < n; ++i) {
        dst[off[1] + i * st[1]] =
            static_cast<T>(static_cast<compute_t<S>>(src[off[0] + i * st[0]]));
      }
    });
  });
}

// Runs every product: out batch p multiplies A at a_offs[p] by B at b_offs[p].
template <typename T>
void run_products(const Operand& A, const std::vector<int64_t>& a_offs, const Operand& B,
                  const std::vector<int64_t>& b_offs, Dims d, const Node* c, float alpha,
                  float beta, const Shape& shape, T* C) {
  const size_t total = a_offs.size() * d.m * d.n;
  if (c) {
    fill_from<T>(*c, shape, C);
  } else {
    // BLAS gemm ignores C when beta is 0; the gemv kernels and k = 0 read it.
    if (d.m == 1 || d.k == 0) std::memset(C, 0, total * sizeof(T));
    beta = 0.0f;
  }
  if (total == 0) return;
  if (d.k == 0) {
    for (size_t i = 0; i < total; ++i) C[i] = static_cast<T>(beta * C[i]);
    return;
  }
  if (foldable(A, a_offs, b_offs, d)) {
    gemm_one<T>(A, a_offs[0], B, b_offs[0], C, {d.m * int64_t(a_offs.size()), d.n, d.k}, alpha,
                beta);
    return;
  }
  for (size_t p = 0; p < a_offs.size(); ++p) {
    gemm_one<T>(A, a_offs[p], B, b_offs[p], C + p * d.m * d.n, d, alpha, beta);
  }
}

// The operands of a product of out's dtype; `offsets` maps them to the per-product offsets.
template <typename Offsets>
void matmul_cpu(const Node& a, const Node& b, const Node* c, Node& out, float alpha, float beta,
                Offsets&& offsets) {
  const size_t nd = out.shape.size();
  Dims d{out.shape[nd - 2], out.shape[nd - 1], a.shape.back()};
  const Dtype ct = out.dtype == float64 ? float64 : float32;
  Operand A = make_operand(a, ct);
  Operand B;
  const size_t bd = b.shape.size();
  bool trans;
  int64_t ld;
  if (is_16bit(b.dtype) && ct == float32 &&
      blas_layout(d.k, d.n, b.strides[bd - 2], b.strides[bd - 1], trans, ld)) {
    B = direct_operand(b);
    B.trans = trans;
    B.ld = ld;
  } else {
    B = make_operand(b, ct);
  }
  std::vector<int64_t> a_offs, b_offs;
  offsets(A, B, a_offs, b_offs);
  if (B.dtype != ct) {
    // Streaming 16-bit weights only pays off while each product reads them once
    // (products that fold into one tall product do).
    bool same = b_offs.size() > 1;
    for (size_t p = 1; same && p < b_offs.size(); ++p) same = b_offs[p] == b_offs[0];
    if (same && !foldable(A, a_offs, b_offs, d)) {
      B = make_operand(b, ct);
      offsets(A, B, a_offs, b_offs);
    }
  }
  out.allocate();
  if (out.dtype == ct) {
    if (ct == float64) {
      run_products<double>(A, a_offs, B, b_offs, d, c, alpha, beta, out.shape, out.data<double>());
    } else {
      run_products<float>(A, a_offs, B, b_offs, d, c, alpha, beta, out.shape, out.data<float>());
    }
    return;
  }
  std::vector<float> tmp(out.size());
  run_products<float>(A, a_offs, B, b_offs, d, c, alpha, beta, out.shape, tmp.data());
  convert_elements(tmp.data(), float32, out.raw(), out.dtype, out.size());
}

Shape out_batch(const Node& out) { return Shape(out.shape.begin(), out.shape.end() - 2); }

void broadcast_offsets(const Node& out, const Operand& A, const Operand& B,
                       std::vector<int64_t>& a_offs, std::vector<int64_t>& b_offs) {
  Shape batch = out_batch(out);
  a_offs = batch_offsets(batch, broadcast_batch(A, batch));
  b_offs = batch_offsets(batch, broadcast_batch(B, batch));
}

// Offsets of the matrices the index array selects, checking the range.
std::vector<int64_t> gathered(const Node& idx, const Shape& batch, const Operand& op,
                              const char* which) {
  std::vector<int64_t> own = batch_offsets(op.batch_shape, op.batch_strides);
  std::vector<int64_t> where = batch_offsets(batch, broadcast_strides(idx, batch));
  const uint32_t* v = idx.data<uint32_t>();
  std::vector<int64_t> offs(where.size());
  for (size_t i = 0; i < where.size(); ++i) {
    uint32_t j = v[where[i]];
    if (j >= own.size()) {
      throw Error(std::string("[gather_mm] ") + which + " value " + std::to_string(j) +
                  " is out of range for " + std::to_string(own.size()) + " matrices");
    }
    offs[i] = own[j];
  }
  return offs;
}

}  // namespace

void Matmul::eval_cpu(const NodeList& in, Node& out) {
  matmul_cpu(*in[0], *in[1], nullptr, out, 1.0f, 0.0f,
             [&](const Operand& A, const Operand& B, auto& ao, auto& bo) {
               broadcast_offsets(out, A, B, ao, bo);
             });
}

void AddMM::eval_cpu(const NodeList& in, Node& out) {
  matmul_cpu(*in[1], *in[2], in[0], out, alpha_, beta_,
             [&](const Operand& A, const Operand& B, auto& ao, auto& bo) {
               broadcast_offsets(out, A, B, ao, bo);
             });
}

void GatherMM::eval_cpu(const NodeList& in, Node& out) {
  Shape batch = out_batch(out);
  matmul_cpu(*in[0], *in[1], nullptr, out, 1.0f, 0.0f,
             [&](const Operand& A, const Operand& B, auto& ao, auto& bo) {
               ao = gathered(*in[2], batch, A, "lhs_indices");
               bo = gathered(*in[3], batch, B, "rhs_indices");
             });
}

}  // namespace lathe
