// Convolution op constructors: validate shapes and parameters, infer the output.
#include "lathe/ops/conv.h"

#include <memory>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/conv.h"

namespace lathe {

namespace {

std::string list_str(const std::vector<int>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

void check_params(const char* op, const std::vector<int>& v, size_t n, const char* what, int min) {
  if (v.size() != n) {
    op_error(op, std::string(what) + " needs " + std::to_string(n) + " values, got " + list_str(v));
  }
  for (int e : v) {
    if (e < min) {
      op_error(op, std::string(what) + " must be at least " + std::to_string(min) + ", got " +
                       list_str(v));
    }
  }
}

// Validates x and w and the parameters; returns the common dtype.
Dtype check_operands(const char* op, const Array& x, const Array& w, int groups) {
  x.check_valid(op);
  w.check_valid(op);
  int nd = x.ndim();
  if (nd < 3 || nd > 5) {
    op_error(op, "input must be [N, spatial..., C] with 1 to 3 spatial dimensions, got shape " +
                     shape_str(x.shape()));
  }
  if (w.ndim() != nd) {
    op_error(op, "weight must have the input's " + std::to_string(nd) +
                     " dimensions [C_out, kernel..., C_in / groups], got shape " +
                     shape_str(w.shape()));
  }
  if (!x.dtype().is_floating() || !w.dtype().is_floating()) {
    op_error(op, std::string("needs floating-point input and weight, got ") + x.dtype().name() +
                     " and " + w.dtype().name());
  }
  if (groups < 1) op_error(op, "groups must be at least 1, got " + std::to_string(groups));
  const int64_t cin = x.shape(-1), cout = w.shape(0);
  if (cin < 1 || cout < 1) {
    op_error(op, "channel counts must be positive, got input " + shape_str(x.shape()) +
                     " and weight " + shape_str(w.shape()));
  }
  if (cin % groups != 0 || cout % groups != 0) {
    op_error(op, std::to_string(groups) + " groups do not divide " + std::to_string(cin) +
                     " input channels and " + std::to_string(cout) + " output channels");
  }
  if (w.shape(-1) != cin / groups) {
    op_error(op, "weight " + shape_str(w.shape()) + " has " + std::to_string(w.shape(-1)) +
                     " input channels per group, but the input " + shape_str(x.shape()) + " with " +
                     std::to_string(groups) + " groups has " + std::to_string(cin / groups));
  }
  for (int d = 1; d < nd - 1; ++d) {
    if (w.shape(d) < 1) op_error(op, "kernel sizes must be positive, got " + shape_str(w.shape()));
  }
  return promote_types(x.dtype(), w.dtype());
}

Array conv_impl(const char* op, const Array& x, const Array& w, ConvParams p) {
  Dtype dt = check_operands(op, x, w, p.groups);
  const size_t ns = static_cast<size_t>(x.ndim() - 2);
  check_params(op, p.stride, ns, "stride", 1);
  check_params(op, p.padding_lo, ns, "padding", 0);
  check_params(op, p.padding_hi, ns, "padding", 0);
  check_params(op, p.dilation, ns, "dilation", 1);
  Shape out = x.shape();
  out.back() = w.shape(0);
  for (size_t i = 0; i < ns; ++i) {
    int64_t len = x.shape(i + 1) + p.padding_lo[i] + p.padding_hi[i];
    int64_t extent = int64_t(p.dilation[i]) * (w.shape(i + 1) - 1) + 1;
    if (len < extent) {
      op_error(op, "kernel extent " + std::to_string(extent) + " (kernel " +
                       std::to_string(w.shape(i + 1)) + ", dilation " +
                       std::to_string(p.dilation[i]) + ") is larger than the padded input " +
                       std::to_string(len) + " in spatial dimension " + std::to_string(i));
    }
    out[i + 1] = (len - extent) / p.stride[i] + 1;
  }
  return Array(std::move(out), dt, std::make_shared<Convolution>(std::move(p)),
               {astype(x, dt), astype(w, dt)});
}

Array conv_transpose_impl(const char* op, const Array& x, const Array& w, ConvParams p,
                          const std::vector<int>& output_padding) {
  Dtype dt = check_operands(op, x, w, p.groups);
  const size_t ns = static_cast<size_t>(x.ndim() - 2);
  check_params(op, p.stride, ns, "stride", 1);
  check_params(op, p.padding_lo, ns, "padding", 0);
  check_params(op, p.dilation, ns, "dilation", 1);
  check_params(op, output_padding, ns, "output_padding", 0);
  p.padding_hi = p.padding_lo;
  p.transpose = true;
  Shape out = x.shape();
  out.back() = w.shape(0);
  for (size_t i = 0; i < ns; ++i) {
    if (output_padding[i] >= std::max(p.stride[i], p.dilation[i])) {
      op_error(op, "output_padding " + list_str(output_padding) +
                       " must be smaller than the stride or the dilation");
    }
    int64_t len = (x.shape(i + 1) - 1) * p.stride[i] - 2 * int64_t(p.padding_lo[i]) +
                  int64_t(p.dilation[i]) * (w.shape(i + 1) - 1) + output_padding[i] + 1;
    if (len < 1 || x.shape(i + 1) < 1) {
      op_error(op, "padding " + list_str(p.padding_lo) + " leaves no output in spatial dimension " +
                       std::to_string(i) + " (input " + shape_str(x.shape()) + ", weight " +
                       shape_str(w.shape()) + ")");
    }
    out[i + 1] = len;
  }
  return Array(std::move(out), dt, std::make_shared<Convolution>(std::move(p)),
               {astype(x, dt), astype(w, dt)});
}

std::vector<int> vec(std::pair<int, int> p) { return {p.first, p.second}; }
std::vector<int> vec(std::array<int, 3> p) { return {p[0], p[1], p[2]}; }

}  // namespace

Array conv1d(const Array& x, const Array& w, int stride, int padding, int dilation, int groups) {
  return conv_impl("conv1d", x, w, {{stride}, {padding}, {padding}, {dilation}, groups});
}

Array conv2d(const Array& x, const Array& w, std::pair<int, int> stride,
             std::pair<int, int> padding, std::pair<int, int> dilation, int groups) {
  return conv_impl("conv2d", x, w,
                   {vec(stride), vec(padding), vec(padding), vec(dilation), groups});
}

Array conv3d(const Array& x, const Array& w, std::array<int, 3> stride, std::array<int, 3> padding,
             std::array<int, 3> dilation, int groups) {
  return conv_impl("conv3d", x, w,
                   {vec(stride), vec(padding), vec(padding), vec(dilation), groups});
}

Array conv_general(const Array& x, const Array& w, std::vector<int> stride,
                   std::vector<int> padding_lo, std::vector<int> padding_hi,
                   std::vector<int> dilation, int groups) {
  return conv_impl("conv_general", x, w,
                   {std::move(stride), std::move(padding_lo), std::move(padding_hi),
                    std::move(dilation), groups});
}

Array conv_transpose1d(const Array& x, const Array& w, int stride, int padding, int dilation,
                       int output_padding, int groups) {
  return conv_transpose_impl("conv_transpose1d", x, w,
                             {{stride}, {padding}, {}, {dilation}, groups}, {output_padding});
}

Array conv_transpose2d(const Array& x, const Array& w, std::pair<int, int> stride,
                       std::pair<int, int> padding, std::pair<int, int> dilation,
                       std::pair<int, int> output_padding, int groups) {
  return conv_transpose_impl("conv_transpose2d", x, w,
                             {vec(stride), vec(padding), {}, vec(dilation), groups},
                             vec(output_padding));
}

Array conv_transpose3d(const Array& x, const Array& w, std::array<int, 3> stride,
                       std::array<int, 3> padding, std::array<int, 3> dilation,
                       std::array<int, 3> output_padding, int groups) {
  return conv_transpose_impl("conv_transpose3d", x, w,
                             {vec(stride), vec(padding), {}, vec(dilation), groups},
                             vec(output_padding));
}

Array upsample_nearest(const Array& x, std::vector<int> scale) {
  x.check_valid("upsample_nearest");
  const int nd = x.ndim();
  if (nd < 3) {
    op_error("upsample_nearest",
             "input must be [N, spatial..., C] with at least one spatial dimension, got shape " +
                 shape_str(x.shape()));
  }
  const size_t ns = static_cast<size_t>(nd - 2);
  if (scale.size() == 1) scale.assign(ns, scale[0]);
  check_params("upsample_nearest", scale, ns, "scale", 1);
  // [N, S1, 1, S2, 1, ..., C] broadcast to the factors, then merged: each value repeats.
  Shape split{x.shape(0)}, wide{x.shape(0)}, out{x.shape(0)};
  for (size_t i = 0; i < ns; ++i) {
    split.insert(split.end(), {x.shape(i + 1), 1});
    wide.insert(wide.end(), {x.shape(i + 1), scale[i]});
    out.push_back(x.shape(i + 1) * scale[i]);
  }
  split.push_back(x.shape(-1));
  wide.push_back(x.shape(-1));
  out.push_back(x.shape(-1));
  return reshape(broadcast_to(reshape(x, split), wide), out);
}

}  // namespace lathe
