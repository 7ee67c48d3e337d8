// Matrix products on the GPU through cuBLAS: float32 without TF32, float16 and
// bfloat16 with float32 accumulation, float64. Row-major products are computed
// as the column-major transposed product; regular batches use one strided
// batched call, irregular ones (broadcast patterns) one call per product.
// Decode products (at most 8 rows of a against one matrix b stored as rows,
// b = W^T) go to the GEMV kernel instead (gemv.cu).
#include <cublas_v2.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "lathe/backend/cuda/copy.h"
#include "lathe/backend/cuda/gemv.h"
#include "lathe/backend/cuda/runtime.h"
#include "lathe/primitives/linalg.h"

namespace lathe {

using detail::Node;

namespace {

void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    throw Error(std::string("[") + what + "] cuBLAS error " + std::to_string(static_cast<int>(s)));
  }
}

// One handle per lathe stream, bound to its GPU stream.
cublasHandle_t handle() {
  static std::mutex mu;
  static auto* handles = new std::unordered_map<int, cublasHandle_t>();
  const int id = cuda::current_stream_id();
  std::lock_guard lk(mu);
  auto it = handles->find(id);
  if (it == handles->end()) {
    cublasHandle_t h = nullptr;
    check_blas(cublasCreate(&h), "matmul");
    it = handles->emplace(id, h).first;
  }
  check_blas(cublasSetStream(it->second, cuda::current_stream()), "matmul");
  return it->second;
}

// A stack of matrices as cuBLAS reads them (row-major, or transposed).
struct Operand {
  const char* base = nullptr;
  std::shared_ptr<Buffer> copy;  // a dense copy when the layout is not usable
  bool trans = false;
  int64_t ld = 1;
  Shape batch_shape;
  Strides batch_strides;
};

Operand make_operand(const Node& x) {
  const size_t nd = x.shape.size();
  const int64_t rows = x.shape[nd - 2], cols = x.shape[nd - 1];
  const int64_t sr = x.strides[nd - 2], sc = x.strides[nd - 1];
  Operand op;
  op.batch_shape.assign(x.shape.begin(), x.shape.end() - 2);
  op.batch_strides.assign(x.strides.begin(), x.strides.end() - 2);
  op.base = static_cast<const char*>(x.raw());
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= std::max<int64_t>(cols, 1))) {
    op.ld = rows == 1 ? std::max<int64_t>(cols, 1) : sr;
    return op;
  }
  if ((rows == 1 || sr == 1) && (cols == 1 || sc >= std::max<int64_t>(rows, 1))) {
    op.trans = true;
    op.ld = cols == 1 ? std::max<int64_t>(rows, 1) : sc;
    return op;
  }
  op.copy = cuda::scratch(x.nbytes());
  cuda::copy_to_contiguous(x, op.copy->ptr());
  op.base = static_cast<const char*>(op.copy->ptr());
  op.ld = std::max<int64_t>(cols, 1);
  op.batch_strides = row_strides(op.batch_shape);
  for (auto& s : op.batch_strides) s *= rows * cols;
  return op;
}

// Element offsets of each product's matrix, the batch broadcast to `batch`.
std::vector<int64_t> offsets(const Operand& op, const Shape& batch) {
  Strides s(batch.size(), 0);
  const size_t k = op.batch_shape.size();
  for (size_t i = 0; i < k; ++i) {
    if (op.batch_shape[i] != 1) s[batch.size() - k + i] = op.batch_strides[i];
  }
  std::vector<int64_t> offs{0};
  for (size_t d = 0; d < batch.size(); ++d) {
    std::vector<int64_t> next;
    next.reserve(offs.size() * batch[d]);
    for (int64_t o : offs) {
      for (int64_t i = 0; i < batch[d]; ++i) next.push_back(o + i * s[d]);
    }
    offs = std::move(next);
  }
  return offs;
}

bool arithmetic(const std::vector<int64_t>& v, int64_t& step) {
  step = v.size() > 1 ? v[1] - v[0] : 0;
  for (size_t i = 2; i < v.size(); ++i) {
    if (v[i] - v[i - 1] != step) return false;
  }
  return true;
}

cudaDataType_t data_type(Dtype d, const char* op) {
  if (d == float32) return CUDA_R_32F;
  if (d == float16) return CUDA_R_16F;
  if (d == bfloat16) return CUDA_R_16BF;
  if (d == float64) return CUDA_R_64F;
  throw Error(std::string("[") + op + "] not defined for " + d.name() + " on cuda");
}

// out = alpha * a @ b + beta * out (out already holds C when beta != 0).
void gemm(const char* name, const Node& a, const Node& b, Node& out, double alpha, double beta) {
  const size_t nd = out.shape.size();
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1], k = a.shape.back();
  if (out.size() == 0) return;
  const cudaDataType_t t = data_type(out.dtype, name);
  if (a.dtype != out.dtype || b.dtype != out.dtype) {
    throw Error(std::string("[") + name + "] operands of " + a.dtype.name() + " and " +
                b.dtype.name() + " into " + out.dtype.name() + " are not supported on cuda");
  }
  Operand A = make_operand(a), B = make_operand(b);
  Shape batch(out.shape.begin(), out.shape.end() - 2);
  std::vector<int64_t> ao = offsets(A, batch), bo = offsets(B, batch);
  const size_t es = out.dtype.size();
  const bool f64 = out.dtype == float64;
  const cublasComputeType_t compute = f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  const float af = static_cast<float>(alpha), bf = static_cast<float>(beta);
  const void* pa = f64 ? static_cast<const void*>(&alpha) : &af;
  const void* pb = f64 ? static_cast<const void*>(&beta) : &bf;
  // Column-major: out^T (n x m) = b^T (n x k) @ a^T (k x m).
  const cublasOperation_t opb = B.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opa = A.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t h = handle();
  int64_t sa = 0, sb = 0;
  char* c = static_cast<char*>(out.raw());
  if (arithmetic(ao, sa) && arithmetic(bo, sb)) {
    check_blas(
        cublasGemmStridedBatchedEx(h, opb, opa, n, m, k, pa, B.base + bo[0] * es, t, B.ld, sb,
                                   A.base + ao[0] * es, t, A.ld, sa, pb, c, t, n, m * n,
                                   static_cast<int>(ao.size()), compute, CUBLAS_GEMM_DEFAULT),
        name);
  } else {
    for (size_t p = 0; p < ao.size(); ++p) {
      check_blas(
          cublasGemmEx(h, opb, opa, n, m, k, pa, B.base + bo[p] * es, t, B.ld, A.base + ao[p] * es,
                       t, A.ld, pb, c + p * m * n * es, t, n, compute, CUBLAS_GEMM_DEFAULT),
          name);
    }
  }
}

// out = alpha * a @ b + beta * (bias broadcast over rows, or out when bias is
// null) through the GEMV when every row of out is a row of a times one matrix b
// whose columns are contiguous rows of W.
bool try_gemv(const Node& a, const Node& b, Node& out, float alpha, float beta,
              const void* bias = nullptr) {
  const size_t nd = out.shape.size(), na = a.shape.size(), nb = b.shape.size();
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1];
  const int64_t products = static_cast<int64_t>(out.size()) / (m * n);
  if (products * m > cuda::kGemvMaxRows || a.dtype != out.dtype || b.dtype != out.dtype) {
    return false;
  }
  cuda::GemvArgs g;
  g.dtype = out.dtype;
  g.k = a.shape[na - 1];
  g.n = n;
  g.m = static_cast<int>(products * m);
  // b [..., K, N]: element (t, j) at t * stride(K) + j * stride(N); one matrix for all products.
  for (size_t d = 0; d + 2 < nb; ++d) {
    if (b.shape[d] != 1 && b.strides[d] != 0) return false;
  }
  if (g.k > 1 && b.strides[nb - 2] != 1) return false;
  if (na > 0 && g.k > 1 && a.strides[na - 1] != 1) return false;
  g.w = b.raw();
  g.ldw = n > 1 ? b.strides[nb - 1] : g.k;
  // Row i of product p: a's batch index broadcast to out's batch.
  const size_t nbatch = nd - 2, abatch = na - 2;
  const size_t es = a.dtype.size();
  for (int64_t p = 0; p < products; ++p) {
    int64_t rem = p, off = 0;
    for (size_t d = nbatch; d-- > 0;) {
      const int64_t c = rem % out.shape[d];
      rem /= out.shape[d];
      const size_t ad = d + abatch - nbatch;
      if (d + abatch >= nbatch && a.shape[ad] != 1) off += c * a.strides[ad];
    }
    for (int64_t i = 0; i < m; ++i) {
      g.x[p * m + i] = static_cast<const char*>(a.raw()) + (off + i * a.strides[na - 2]) * es;
    }
  }
  g.y = out.raw();
  g.ldy = n;
  g.alpha = alpha;
  g.beta = beta;
  g.bias = bias;
  if (!cuda::gemv_fits(g)) return false;
  cuda::launch_gemv(g, cuda::current_stream());
  return true;
}

// c as one row of out's dtype broadcast over all rows (a bias): its row, else null.
const void* bias_row(const Node& c, const Node& out) {
  if (c.dtype != out.dtype || c.shape.empty() || c.shape.back() != out.shape.back()) return nullptr;
  const size_t nc = c.shape.size();
  if (c.shape.back() > 1 && c.strides[nc - 1] != 1) return nullptr;
  for (size_t d = 0; d + 1 < nc; ++d) {
    if (c.shape[d] != 1 && c.strides[d] != 0) return nullptr;
  }
  return c.raw();
}

}  // namespace

namespace cuda {
void blas_matmul(const char* name, const Node& a, const Node& b, Node& out) {
  gemm(name, a, b, out, 1.0, 0.0);
}
}  // namespace cuda

void Matmul::eval_cuda(const NodeList& in, Node& out) {
  out.allocate();
  if (out.size() == 0) return;
  if (in[0]->shape.back() == 0) {
    cuda::check(cudaMemsetAsync(out.raw(), 0, out.nbytes(), cuda::current_stream()), "matmul");
    return;
  }
  if (try_gemv(*in[0], *in[1], out, 1.0f, 0.0f)) return;
  gemm("matmul", *in[0], *in[1], out, 1.0, 0.0);
}

void AddMM::eval_cuda(const NodeList& in, Node& out) {
  out.allocate();
  if (out.size() == 0) return;
  const void* bias = beta_ != 0.0f && in[1]->shape.back() > 0 ? bias_row(*in[0], out) : nullptr;
  if (bias && try_gemv(*in[1], *in[2], out, alpha_, beta_, bias)) return;
  cuda::convert_broadcast(*in[0], out);
  if (in[1]->shape.back() == 0) {
    cuda::scale(out, beta_);
    return;
  }
  if (try_gemv(*in[1], *in[2], out, alpha_, beta_)) return;
  gemm("addmm", *in[1], *in[2], out, alpha_, beta_);
}

}  // namespace lathe
