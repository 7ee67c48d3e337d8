// GPU side of the shape ops that move data: concatenate, slice_update (in
// place when the array is donatable) and padding, as strided copies into
// regions of the output (edge padding gathers clamped coordinates).
#include "lathe/primitives/shape_copy.h"

#include "lathe/backend/cuda/copy.h"

namespace lathe {

using detail::Node;

namespace {
void* element_at(void* base, int64_t offset, size_t es) {
  return static_cast<char*>(base) + offset * static_cast<int64_t>(es);
}
}  // namespace

void Concatenate::eval_cuda(const NodeList& in, Node& out) {
  out.allocate();
  const Strides os = row_strides(out.shape);
  int64_t pos = 0;
  for (const Node* x : in) {
    cuda::copy_strided(*x, element_at(out.raw(), pos * os[axis_], out.dtype.size()), os);
    pos += x->shape[axis_];
  }
}

void SliceUpdate::eval_cuda(const NodeList& in, Node& out) {
  Node& a = *in[0];
  const Node& update = *in[1];
  if (a.donatable() && a.dtype == out.dtype && a.shape == out.shape) {
    out.donate_from(a);
  } else {
    out.allocate();
    cuda::copy_to_contiguous(a, out.raw());
  }
  const Strides os = row_strides(out.shape);
  Strides region(os.size());
  int64_t first = 0;
  for (size_t d = 0; d < os.size(); ++d) {
    first += start_[d] * os[d];
    region[d] = os[d] * steps_[d];
  }
  cuda::copy_strided(update, element_at(out.raw(), first, out.dtype.size()), region);
}

void Pad::eval_cuda(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  if (out.shape.empty()) {
    cuda::copy_to_contiguous(x, out.raw());
    return;
  }
  if (mode_ == PadMode::edge) {
    cuda::pad_edge(x, out, low_);
    return;
  }
  cuda::fill(out, value_);
  const Strides os = row_strides(out.shape);
  int64_t first = 0;
  for (size_t d = 0; d < os.size(); ++d) first += low_[d] * os[d];
  cuda::copy_strided(x, element_at(out.raw(), first, out.dtype.size()), os);
}

}  // namespace lathe
