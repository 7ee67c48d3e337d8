// CPU kernels of concatenate, slice_update and pad: strided region copies into
// a row-major output (or, for slice_update, into the donated input buffer).
#include "lathe/primitives/shape_copy.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "lathe/backend/cpu/region_copy.h"

namespace lathe {

using detail::Node;

void Concatenate::eval_cpu(const NodeList& in, Node& out) {
  out.allocate();
  const size_t es = out.dtype.size();
  const Strides os = row_strides(out.shape);
  int64_t pos = 0;
  for (const Node* x : in) {
    if (x->size() > 0) {
      cpu::copy_region(x->raw(), x->strides, cpu::element_at(out.raw(), pos * os[axis_], es), os,
                       x->shape, es);
    }
    pos += x->shape[axis_];
  }
}

void SliceUpdate::eval_cpu(const NodeList& in, Node& out) {
  Node& a = *in[0];
  const Node& update = *in[1];
  cpu::copy_or_donate(a, out);
  if (update.size() == 0) return;
  const size_t es = out.dtype.size();
  const Strides os = row_strides(out.shape);
  Strides region(os.size());
  int64_t first = 0;
  for (size_t d = 0; d < os.size(); ++d) {
    first += start_[d] * os[d];
    region[d] = os[d] * steps_[d];
  }
  cpu::copy_region(update.raw(), update.strides, cpu::element_at(out.raw(), first, es), region,
                   update.shape, es);
}

namespace {

// Edge padding: every output coordinate reads the clamped input coordinate.
void pad_edge(const Node& x, Node& out, const Shape& low) {
  const size_t es = out.dtype.size();
  const int nd = static_cast<int>(out.shape.size());
  // Per axis, the input element offset each output coordinate reads.
  std::vector<std::vector<int64_t>> src(nd);
  for (int d = 0; d < nd; ++d) {
    src[d].resize(out.shape[d]);
    for (int64_t i = 0; i < out.shape[d]; ++i) {
      int64_t j = std::clamp<int64_t>(i - low[d], 0, x.shape[d] - 1);
      src[d][i] = j * x.strides[d];
    }
  }
  const char* base = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(out.raw());
  const int64_t inner = out.shape[nd - 1];
  std::vector<int64_t> idx(nd, 0);
  const size_t rows = out.size() / inner;
  for (size_t r = 0; r < rows; ++r) {
    int64_t row_off = 0;
    for (int d = 0; d < nd - 1; ++d) row_off += src[d][idx[d]];
    const auto& last = src[nd - 1];
    for (int64_t i = 0; i < inner; ++i, dst += es) {
      std::memcpy(dst, cpu::element_at(base, row_off + last[i], es), es);
    }
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < out.shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

void Pad::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  const size_t es = out.dtype.size();
  if (out.shape.empty()) {
    std::memcpy(out.raw(), x.raw(), es);
    return;
  }
  if (mode_ == PadMode::edge) {
    pad_edge(x, out, low_);
    return;
  }
  char value[8];
  convert_elements(&value_, float64, value, out.dtype, 1);
  cpu::fill_elements(out.raw(), value, out.size(), es);
  if (x.size() == 0) return;
  const Strides os = row_strides(out.shape);
  int64_t first = 0;
  for (size_t d = 0; d < os.size(); ++d) first += low_[d] * os[d];
  cpu::copy_region(x.raw(), x.strides, cpu::element_at(out.raw(), first, es), os, x.shape, es);
}

}  // namespace lathe
