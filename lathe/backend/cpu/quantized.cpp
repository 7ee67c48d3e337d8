// CPU side of the quantization primitives: quantize/dequantize over whole
// stacks, and (gather_)quantized_matmul as one qmatmul per product.
#include "lathe/primitives/quantized.h"

#include <bit>
#include <cstring>
#include <vector>

#include "lathe/backend/cpu/gemv.h"
#include "lathe/backend/cpu/parallel.h"
#include "lathe/backend/cpu/quantized_kernels.h"
#include "lathe/backend/cpu/strided.h"

namespace lathe {

using detail::Node;

static_assert(std::endian::native == std::endian::little,
              "packed codes are read as little-endian bytes");

namespace {

cpu::QFormat format_of(const QuantSpec& s) {
  return {s.group_size, s.bits, s.mode == QuantMode::mxfp4};
}

// A row-major copy of x in float32.
std::vector<float> floats_of(const Node& x) {
  std::vector<float> v(x.size());
  if (x.contiguous) {
    convert_elements(x.raw(), x.dtype, v.data(), float32, x.size());
  } else {
    std::vector<char> tmp(x.nbytes());
    cpu::gather_contiguous(x, tmp.data());
    convert_elements(tmp.data(), x.dtype, v.data(), float32, x.size());
  }
  return v;
}

// The weight stack of a primitive's inputs (wq, scales[, biases]), all row-major.
struct Stack {
  cpu::QMatrix first;
  int64_t count;  // matrices in the stack
  Shape batch;
  int64_t code_step, param_step;  // bytes / elements between matrices

  cpu::QMatrix at(int64_t i) const {
    cpu::QMatrix m = first;
    m.codes += i * code_step;
    m.scales = static_cast<const char*>(m.scales) + i * param_step * int64_t(m.scale_dtype.size());
    if (m.biases)
      m.biases =
          static_cast<const char*>(m.biases) + i * param_step * int64_t(m.scale_dtype.size());
    return m;
  }
};

Stack stack_of(const QuantSpec& spec, const Node& wq, const Node& scales, const Node* biases) {
  const size_t nd = wq.shape.size();
  Stack s;
  s.batch.assign(wq.shape.begin(), wq.shape.end() - 2);
  s.count = static_cast<int64_t>(shape_size(s.batch));
  cpu::QMatrix& m = s.first;
  m.rows = wq.shape[nd - 2];
  m.row_bytes = wq.shape[nd - 1] * int64_t(wq.dtype.size());
  m.cols = m.row_bytes * 8 / spec.bits;
  m.groups = m.cols / spec.group_size;
  m.codes = static_cast<const uint8_t*>(wq.raw());
  m.scales = scales.raw();
  m.biases = biases ? biases->raw() : nullptr;
  m.scale_dtype = scales.dtype;
  s.code_step = m.rows * m.row_bytes;
  s.param_step = m.rows * m.groups;
  return s;
}

// For each index of `batch` (row-major), the flat index into `own` broadcast to it.
std::vector<int64_t> broadcast_index(const Shape& own, const Shape& batch) {
  Strides st(batch.size(), 0);
  Strides rs = row_strides(own);
  for (size_t i = 0; i < own.size(); ++i) {
    size_t d = batch.size() - own.size() + i;
    if (own[i] != 1) st[d] = rs[i];
  }
  std::vector<int64_t> idx{0};
  for (size_t d = 0; d < batch.size(); ++d) {
    std::vector<int64_t> next;
    next.reserve(idx.size() * batch[d]);
    for (int64_t o : idx)
      for (int64_t i = 0; i < batch[d]; ++i) next.push_back(o + i * st[d]);
    idx = std::move(next);
  }
  return idx;
}

// Index values (uint32, broadcast to batch) checked against the number of matrices.
std::vector<int64_t> index_values(const Node& idx, const Shape& batch, int64_t count,
                                  const char* which) {
  std::vector<int64_t> out;
  Strides bs = broadcast_strides(idx, batch), rs = row_strides(batch);
  out.resize(shape_size(batch));
  const uint32_t* v = idx.data<uint32_t>();
  cpu::for_each_row<2>(batch, {&bs, &rs}, [&](auto off, int64_t n, auto st) {
    for (int64_t i = 0; i < n; ++i) {
      uint32_t j = v[off[0] + i * st[0]];
      if (j >= count) {
        throw Error(std::string("[gather_qmm] ") + which + " value " + std::to_string(j) +
                    " is out of range for " + std::to_string(count) + " matrices");
      }
      out[off[1] + i * st[1]] = j;
    }
  });
  return out;
}

// Runs the products out[p] = x[x_idx[p]] @ W[w_idx[p]](.T) and writes out.
void run_qmm(const QuantSpec& spec, bool transpose, const Node& x, const Stack& w,
             const std::vector<int64_t>& x_idx, const std::vector<int64_t>& w_idx, Node& out) {
  const size_t nd = out.shape.size();
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1], k = x.shape.back();
  out.allocate();
  if (out.size() == 0) return;
  std::vector<float> xf = floats_of(x);
  std::vector<float> tmp;
  float* y = out.dtype == float32 ? out.data<float>() : (tmp.resize(out.size()), tmp.data());
  cpu::QFormat f = format_of(spec);
  for (size_t p = 0; p < x_idx.size(); ++p) {
    cpu::qmatmul(f, w.at(w_idx[p]), xf.data() + x_idx[p] * m * k, m, transpose, y + p * m * n);
  }
  if (out.dtype != float32) convert_elements(y, float32, out.raw(), out.dtype, out.size());
}

}  // namespace

void AffineQuantize::eval_cpu(const NodeList& in, Node& out) {
  const Node& w = *in[0];
  const int64_t k = w.shape.back();
  const int64_t rows = k ? static_cast<int64_t>(w.size()) / k : 0;
  const int gs = spec_.group_size;
  const int64_t groups = k / gs;
  std::vector<float> wf = floats_of(w);
  out.allocate();
  if (part_ == Part::packed) {
    const int64_t row_bytes = k * spec_.bits / 8;
    uint8_t* codes = static_cast<uint8_t*>(out.raw());
    std::memset(codes, 0, out.nbytes());
    cpu::parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(k, 1)),
                      [&](int64_t a, int64_t b) {
                        for (int64_t r = a; r < b; ++r) {
                          for (int64_t g = 0; g < groups; ++g) {
                            const float* src = wf.data() + r * k + g * gs;
                            float scale, bias;
                            cpu::affine_params(src, gs, spec_.bits, scale, bias);
                            for (int i = 0; i < gs; ++i) {
                              cpu::put_code(codes + r * row_bytes, g * gs + i, spec_.bits,
                                            cpu::affine_code(src[i], scale, bias, spec_.bits));
                            }
                          }
                        }
                      });
    return;
  }
  std::vector<float> params(rows * groups);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      float scale, bias;
      cpu::affine_params(wf.data() + r * k + g * gs, gs, spec_.bits, scale, bias);
      params[r * groups + g] = part_ == Part::scales ? scale : bias;
    }
  }
  convert_elements(params.data(), float32, out.raw(), out.dtype, out.size());
}

void Dequantize::eval_cpu(const NodeList& in, Node& out) {
  Stack w = stack_of(spec_, *in[0], *in[1], in.size() > 2 ? in[2] : nullptr);
  cpu::QFormat f = format_of(spec_);
  out.allocate();
  const int64_t rows = w.count * w.first.rows;
  // All matrices of the stack are consecutive: one tall matrix.
  cpu::QMatrix all = w.first;
  all.rows = rows;
  std::vector<float> tmp;
  float* dst = out.dtype == float32 ? out.data<float>() : (tmp.resize(out.size()), tmp.data());
  int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(all.cols, 1));
  cpu::parallel_for(rows, grain, [&](int64_t a, int64_t b) {
    cpu::dequantize_rows(f, all, a, b, dst + a * all.cols);
  });
  if (out.dtype != float32) convert_elements(dst, float32, out.raw(), out.dtype, out.size());
}

void QuantizedMatmul::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  Stack w = stack_of(spec_, *in[1], *in[2], in.size() > 3 ? in[3] : nullptr);
  Shape batch(out.shape.begin(), out.shape.end() - 2);
  Shape xb(x.shape.begin(), x.shape.end() - 2);
  run_qmm(spec_, transpose_, x, w, broadcast_index(xb, batch), broadcast_index(w.batch, batch),
          out);
}

void GatherQMM::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  const bool affine = spec_.mode == QuantMode::affine;
  Stack w = stack_of(spec_, *in[1], *in[2], affine ? in[3] : nullptr);
  const Node& li = *in[affine ? 4 : 3];
  const Node& ri = *in[affine ? 5 : 4];
  Shape batch(out.shape.begin(), out.shape.end() - 2);
  Shape xb(x.shape.begin(), x.shape.end() - 2);
  run_qmm(spec_, transpose_, x, w, index_values(li, batch, int64_t(shape_size(xb)), "lhs_indices"),
          index_values(ri, batch, w.count, "rhs_indices"), out);
}

}  // namespace lathe
