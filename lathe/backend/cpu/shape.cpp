// CPU side of the view primitives: share the buffer with new strides, or copy
// when the layout cannot be expressed as a view.
#include "lathe/primitives/shape.h"

#include "lathe/backend/cpu/strided.h"

namespace lathe {

using detail::Node;

namespace cpu {

bool reshape_strides(const Node& in, const Shape& shape, Strides& out) {
  if (in.contiguous) {
    out = row_strides(shape);
    return true;
  }
  // Group input dims into contiguous chunks, then split chunks into output dims.
  std::vector<std::pair<int64_t, int64_t>> chunks;  // (size, innermost stride)
  for (size_t i = 0; i < in.shape.size(); ++i) {
    if (in.shape[i] == 1) continue;
    if (!chunks.empty() && chunks.back().second == in.strides[i] * in.shape[i]) {
      chunks.back().first *= in.shape[i];
      chunks.back().second = in.strides[i];
    } else {
      chunks.emplace_back(in.shape[i], in.strides[i]);
    }
  }
  out.assign(shape.size(), 0);
  int c = static_cast<int>(chunks.size()) - 1;
  int64_t remaining = c >= 0 ? chunks[c].first : 1;
  int64_t stride = c >= 0 ? chunks[c].second : 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    if (shape[i] == 1) {
      out[i] = 0;
      continue;
    }
    if (c < 0 || remaining % shape[i] != 0) return false;
    out[i] = stride;
    stride *= shape[i];
    remaining /= shape[i];
    if (remaining == 1) {
      --c;
      if (c >= 0) {
        remaining = chunks[c].first;
        stride = chunks[c].second;
      }
    }
  }
  return c < 0;
}

}  // namespace cpu

namespace {

void copy_into(const Node& in, Node& out) {
  out.allocate();
  cpu::gather_contiguous(in, out.raw());
}

}  // namespace

void Reshape::eval_cpu(const NodeList& in, Node& out) {
  Strides st;
  if (cpu::reshape_strides(*in[0], out.shape, st)) {
    out.share(*in[0], st, in[0]->offset, in[0]->data_size);
  } else {
    copy_into(*in[0], out);
  }
}

void Transpose::eval_cpu(const NodeList& in, Node& out) {
  Strides st(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) st[i] = in[0]->strides[axes_[i]];
  out.share(*in[0], st, in[0]->offset, in[0]->data_size);
}

void Broadcast::eval_cpu(const NodeList& in, Node& out) {
  out.share(*in[0], broadcast_strides(*in[0], out.shape), in[0]->offset, in[0]->data_size);
}

void Slice::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  int64_t off = 0;
  Strides st(x.shape.size());
  for (size_t i = 0; i < x.shape.size(); ++i) {
    off += start_[i] * x.strides[i];
    st[i] = x.strides[i] * steps_[i];
  }
  out.share(x, st, x.offset + off * x.dtype.size(), x.data_size);
}

void AsStrided::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.share(x, strides_, x.offset + offset_ * x.dtype.size(), x.data_size);
}

void BitCast::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  if (x.contiguous) {
    out.share(x, row_strides(out.shape), x.offset, out.size());
  } else {
    out.allocate();
    cpu::gather_contiguous(x, out.raw());
  }
}

void Contiguous::eval_cpu(const NodeList& in, Node& out) {
  if (in[0]->contiguous && in[0]->data_size == in[0]->size()) {
    out.share(*in[0], row_strides(out.shape), in[0]->offset, in[0]->data_size);
  } else {
    copy_into(*in[0], out);
  }
}

}  // namespace lathe
