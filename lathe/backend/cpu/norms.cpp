// CPU kernels of rms_norm, layer_norm and group_norm: each row (or group) is
// read once into a float buffer, reduced, then written in x's dtype.
#include <cmath>

#include "lathe/backend/cpu/fast_common.h"
#include "lathe/primitives/fast.h"

namespace lathe {

using detail::Node;

namespace {

// Eight independent partial sums so that the loop vectorizes without
// reassociation flags.
template <typename A, typename F>
A sum_of(const A* x, int64_t n, F f) {
  A acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += f(x[i + k]);
  }
  for (; i < n; ++i) acc[0] += f(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <typename A>
std::vector<A> param_or(const NodeList& in, size_t index, bool present, int64_t n, A fill) {
  if (!present) return std::vector<A>(n, fill);
  std::vector<double> v = cpu::load_f64(*in[index]);
  return std::vector<A>(v.begin(), v.end());
}

// residual (row-major, out's layout; null for none) is added after the norm is rounded to T.
// w holds n values, or heads * n (a weight per row of the last two axes: row r takes
// w[(r % heads) * n ...]).
template <typename T>
void rms_norm_typed(const Node& x, Node& out, const std::vector<cpu::acc_t<T>>& w, float eps,
                    const T* residual) {
  using A = cpu::acc_t<T>;
  const int64_t n = x.shape.back(), stride = x.strides.back();
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  std::vector<A> row(n);
  cpu::for_each_last_axis_row(x, [&](int64_t io, int64_t oo) {
    cpu::load_row(src + io, stride, n, row.data());
    A ms = sum_of(row.data(), n, [](A v) { return v * v; }) / static_cast<A>(n);
    A r = A(1) / std::sqrt(ms + static_cast<A>(eps));
    T* y = dst + oo;
    const int64_t heads = static_cast<int64_t>(w.size()) / n;
    const A* wr = w.data() + (heads > 1 ? (oo / n) % heads * n : 0);
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(row[i] * r * wr[i]);
    if (residual) {
      // A second pass over the rounded norm: the sum is the add op's, never contracted
      // with the product into one fused multiply-add.
      const T* res = residual + oo;
      for (int64_t i = 0; i < n; ++i)
        y[i] = static_cast<T>(static_cast<A>(res[i]) + static_cast<A>(y[i]));
    }
  });
}

template <typename T>
void layer_norm_typed(const Node& x, Node& out, const std::vector<cpu::acc_t<T>>& w,
                      const std::vector<cpu::acc_t<T>>& b, float eps) {
  using A = cpu::acc_t<T>;
  const int64_t n = x.shape.back(), stride = x.strides.back();
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  std::vector<A> row(n);
  cpu::for_each_last_axis_row(x, [&](int64_t io, int64_t oo) {
    cpu::load_row(src + io, stride, n, row.data());
    A mean = sum_of(row.data(), n, [](A v) { return v; }) / static_cast<A>(n);
    A var =
        sum_of(row.data(), n, [mean](A v) { return (v - mean) * (v - mean); }) / static_cast<A>(n);
    A r = A(1) / std::sqrt(var + static_cast<A>(eps));
    T* y = dst + oo;
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>((row[i] - mean) * r * w[i] + b[i]);
  });
}

// Group statistics accumulate in double: a group spans every position of an
// image (millions of values), too many for a float running sum.
template <typename T>
void group_norm_typed(const Node& x, Node& out, int groups, const std::vector<double>& w,
                      const std::vector<double>& b, float eps) {
  using A = cpu::acc_t<T>;
  const int64_t c = x.shape.back(), cs = x.strides.back(), per = c / groups;
  const int64_t batch = x.shape[0];
  Shape pos_shape(x.shape.begin() + 1, x.shape.end() - 1);
  Strides pos_in(x.strides.begin() + 1, x.strides.end() - 1);
  Strides out_all = row_strides(x.shape);
  Strides pos_out(out_all.begin() + 1, out_all.end() - 1);
  const int64_t positions = static_cast<int64_t>(shape_size(pos_shape));
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  std::vector<A> row(c);
  std::vector<double> sum(groups), sq(groups);
  std::vector<A> scale(c), shift(c);
  auto each_position = [&](int64_t bi, auto&& f) {
    const T* xb = src + bi * x.strides[0];
    T* yb = dst + bi * out_all[0];
    cpu::for_each_row<2>(pos_shape, {&pos_in, &pos_out}, [&](auto off, int64_t n, auto st) {
      for (int64_t r = 0; r < n; ++r) f(xb + off[0] + r * st[0], yb + off[1] + r * st[1]);
    });
  };
  for (int64_t bi = 0; bi < batch; ++bi) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(sq.begin(), sq.end(), 0.0);
    each_position(bi, [&](const T* p, T*) {
      cpu::load_row(p, cs, c, row.data());
      for (int g = 0; g < groups; ++g) {
        sum[g] += sum_of(row.data() + g * per, per, [](A v) { return v; });
      }
    });
    const double count = static_cast<double>(positions * per);
    for (int g = 0; g < groups; ++g) sum[g] /= count;  // now the mean
    each_position(bi, [&](const T* p, T*) {
      cpu::load_row(p, cs, c, row.data());
      for (int g = 0; g < groups; ++g) {
        A m = static_cast<A>(sum[g]);
        sq[g] += sum_of(row.data() + g * per, per, [m](A v) { return (v - m) * (v - m); });
      }
    });
    for (int64_t ch = 0; ch < c; ++ch) {
      int64_t g = ch / per;
      double r = 1.0 / std::sqrt(sq[g] / count + eps);
      scale[ch] = static_cast<A>(r * w[ch]);
      shift[ch] = static_cast<A>(b[ch] - sum[g] * r * w[ch]);
    }
    each_position(bi, [&](const T* p, T* y) {
      cpu::load_row(p, cs, c, row.data());
      for (int64_t ch = 0; ch < c; ++ch) y[ch] = static_cast<T>(row[ch] * scale[ch] + shift[ch]);
    });
  }
}

}  // namespace

void RmsNorm::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  cpu::dispatch_float(x.dtype, name(), [&](auto t) {
    using T = decltype(t);
    using A = cpu::acc_t<T>;
    auto w = param_or<A>(in, 1, has_weight_, x.shape.back(), A(1));  // n or heads * n values
    const T* residual = nullptr;
    std::vector<T> dense;
    if (has_residual_) {
      const Node& res = *in[has_weight_ ? 2 : 1];
      if (res.contiguous) {
        residual = res.data<T>();
      } else {
        dense.resize(res.size());
        cpu::gather_contiguous(res, dense.data());
        residual = dense.data();
      }
    }
    rms_norm_typed<T>(x, out, w, eps_, residual);
  });
}

void LayerNorm::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  cpu::dispatch_float(x.dtype, name(), [&](auto t) {
    using T = decltype(t);
    using A = cpu::acc_t<T>;
    auto w = param_or<A>(in, 1, has_weight_, x.shape.back(), A(1));
    auto b = param_or<A>(in, has_weight_ ? 2 : 1, has_bias_, x.shape.back(), A(0));
    layer_norm_typed<T>(x, out, w, b, eps_);
  });
}

void GroupNorm::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  auto w = param_or<double>(in, 1, has_weight_, x.shape.back(), 1.0);
  auto b = param_or<double>(in, has_weight_ ? 2 : 1, has_bias_, x.shape.back(), 0.0);
  cpu::dispatch_float(x.dtype, name(),
                      [&](auto t) { group_norm_typed<decltype(t)>(x, out, groups_, w, b, eps_); });
}

}  // namespace lathe
