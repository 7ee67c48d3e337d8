// CPU kernel of rope: a cos/sin table per distinct offset (angles in double,
// so long positions keep their precision), then one pass over the rows.
#include <cmath>

#include "lathe/backend/cpu/fast_common.h"
#include "lathe/primitives/fast.h"

namespace lathe {

using detail::Node;

namespace {

template <typename T>
void rope_typed(const Node& x, Node& out, const Rope::Params& p,
                const std::vector<double>& inv_freq, const std::vector<int64_t>& offsets) {
  using A = cpu::acc_t<T>;
  const int nd = static_cast<int>(x.shape.size());
  const int64_t d = x.shape[nd - 1], t_len = x.shape[nd - 2], half = p.dims / 2;
  const int64_t ds = x.strides[nd - 1], ts = x.strides[nd - 2];
  Shape outer(x.shape.begin(), x.shape.end() - 2);
  Strides outer_in(x.strides.begin(), x.strides.end() - 2);
  Strides out_all = row_strides(x.shape);
  Strides outer_out(out_all.begin(), out_all.end() - 2);
  // Outer rows per entry of the first axis, for per-batch offsets.
  const int64_t per_batch = offsets.size() > 1 ? shape_size(outer) / x.shape[0] : 1;

  std::vector<A> cos_t(t_len * half), sin_t(t_len * half), row(d);
  int64_t table_offset = 0;
  bool have_table = false;
  auto build_table = [&](int64_t offset) {
    for (int64_t t = 0; t < t_len; ++t) {
      double pos = static_cast<double>(offset + t) * p.scale;
      for (int64_t i = 0; i < half; ++i) {
        double a = pos * inv_freq[i];
        cos_t[t * half + i] = static_cast<A>(std::cos(a));
        sin_t[t * half + i] = static_cast<A>(std::sin(a));
      }
    }
    table_offset = offset;
    have_table = true;
  };

  const T* src = x.data<T>();
  T* dst = out.data<T>();
  int64_t outer_index = 0;
  cpu::for_each_row<2>(outer, {&outer_in, &outer_out}, [&](auto off, int64_t n, auto st) {
    for (int64_t r = 0; r < n; ++r, ++outer_index) {
      int64_t offset = offsets.size() > 1 ? offsets[outer_index / per_batch] : offsets[0];
      if (!have_table || offset != table_offset) build_table(offset);
      for (int64_t t = 0; t < t_len; ++t) {
        cpu::load_row(src + off[0] + r * st[0] + t * ts, ds, d, row.data());
        T* y = dst + off[1] + r * st[1] + t * d;
        const A* c = cos_t.data() + t * half;
        const A* s = sin_t.data() + t * half;
        if (p.traditional) {
          for (int64_t i = 0; i < half; ++i) {
            A x1 = row[2 * i], x2 = row[2 * i + 1];
            y[2 * i] = static_cast<T>(x1 * c[i] - x2 * s[i]);
            y[2 * i + 1] = static_cast<T>(x1 * s[i] + x2 * c[i]);
          }
        } else {
          for (int64_t i = 0; i < half; ++i) {
            A x1 = row[i], x2 = row[i + half];
            y[i] = static_cast<T>(x1 * c[i] - x2 * s[i]);
            y[i + half] = static_cast<T>(x2 * c[i] + x1 * s[i]);
          }
        }
        for (int64_t i = p.dims; i < d; ++i) y[i] = static_cast<T>(row[i]);
      }
    }
  });
}

}  // namespace

void Rope::eval_cpu(const NodeList& in, Node& out) {
  const Node& x = *in[0];
  out.allocate();
  if (out.size() == 0) return;
  std::vector<int64_t> offsets{p_.offset};
  size_t next = 1;
  if (p_.offset_is_array) {
    std::vector<double> v = cpu::load_f64(*in[next++]);
    offsets.assign(v.begin(), v.end());
  }
  const int64_t half = p_.dims / 2;
  std::vector<double> inv_freq(half);
  if (p_.has_freqs) {
    std::vector<double> f = cpu::load_f64(*in[next]);
    for (int64_t i = 0; i < half; ++i) inv_freq[i] = 1.0 / f[i];
  } else {
    for (int64_t i = 0; i < half; ++i) {
      inv_freq[i] = std::pow(static_cast<double>(p_.base), -2.0 * i / p_.dims);
    }
  }
  cpu::dispatch_float(x.dtype, name(),
                      [&](auto t) { rope_typed<decltype(t)>(x, out, p_, inv_freq, offsets); });
}

}  // namespace lathe
