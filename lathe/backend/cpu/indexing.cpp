// CPU kernels of take, take_along_axis, put_along_axis and scatter. Indices
// are converted to checked int64 first, so data movement is instantiated per
// element size; only scatter_add's accumulation is per dtype.
#include "lathe/primitives/indexing.h"

#include <cstring>
#include <string>
#include <vector>

#include "lathe/backend/cpu/region_copy.h"
#include "lathe/backend/cpu/strided.h"

namespace lathe {

using detail::Node;

namespace {

// The indices as row-major int64, negatives wrapped; throws on any index
// outside [-n, n) before anything is written.
std::vector<int64_t> read_indices(const Node& idx, int64_t n, const char* op, int axis) {
  std::vector<int64_t> v(idx.size());
  if (v.empty()) return v;
  if (idx.contiguous) {
    convert_elements(idx.raw(), idx.dtype, v.data(), int64, v.size());
  } else {
    std::vector<char> tmp(idx.nbytes());
    cpu::gather_contiguous(idx, tmp.data());
    convert_elements(tmp.data(), idx.dtype, v.data(), int64, v.size());
  }
  for (auto& i : v) {
    int64_t k = i < 0 ? i + n : i;
    if (k < 0 || k >= n) {
      throw Error(std::string("[") + op + "] index " + std::to_string(i) +
                  " is out of range for axis " + std::to_string(axis) + " of size " +
                  std::to_string(n));
    }
    i = k;
  }
  return v;
}

int64_t prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// Calls f(uint<es*8>_t{}) for the unsigned type of the element size.
template <typename F>
void dispatch_size(size_t es, F&& f) {
  switch (es) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

// A row-major copy of x's data (x itself when it already is row-major).
const char* row_major(const Node& x, std::vector<char>& tmp) {
  if (x.contiguous) return static_cast<const char*>(x.raw());
  tmp.resize(x.nbytes());
  cpu::gather_contiguous(x, tmp.data());
  return tmp.data();
}

}  // namespace

void Take::eval_cpu(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& ix = *in[1];
  const std::vector<int64_t> idx = read_indices(ix, a.shape[axis_], op_, axis_);
  out.allocate();
  if (out.size() == 0) return;
  const size_t es = a.dtype.size();
  const int nd = static_cast<int>(a.shape.size());
  const int64_t pre = prod(a.shape, 0, axis_), n = a.shape[axis_];
  const int64_t inner = prod(a.shape, axis_ + 1, nd);
  const int64_t m = static_cast<int64_t>(idx.size());
  char* dst = static_cast<char*>(out.raw());
  if (a.contiguous) {
    const char* src = static_cast<const char*>(a.raw());
    if (inner == 1) {
      dispatch_size(es, [&](auto t) {
        using T = decltype(t);
        const T* s = reinterpret_cast<const T*>(src);
        T* d = reinterpret_cast<T*>(dst);
        for (int64_t o = 0; o < pre; ++o, s += n, d += m) {
          for (int64_t j = 0; j < m; ++j) d[j] = s[idx[j]];
        }
      });
      return;
    }
    // Embedding lookups land here: one memcpy per gathered row.
    const size_t row = inner * es;
    for (int64_t o = 0; o < pre; ++o) {
      for (int64_t j = 0; j < m; ++j, dst += row) {
        std::memcpy(dst, src + (o * n + idx[j]) * row, row);
      }
    }
    return;
  }
  // Strided a: copy the slab a[.., idx[j], ..] into its place in out, per index.
  const Strides os = row_strides(out.shape);
  const int ind = static_cast<int>(ix.shape.size());
  Shape slab;
  Strides ss, ds;
  for (int d = 0; d < nd; ++d) {
    if (d == axis_) continue;
    slab.push_back(a.shape[d]);
    ss.push_back(a.strides[d]);
    ds.push_back(os[d < axis_ ? d : d + ind - 1]);
  }
  for (int64_t j = 0; j < m; ++j) {
    cpu::copy_region(cpu::element_at(a.raw(), idx[j] * a.strides[axis_], es), ss,
                     cpu::element_at(dst, j * inner, es), ds, slab, es);
  }
}

void TakeAlongAxis::eval_cpu(const NodeList& in, Node& out) {
  const Node& a = *in[0];
  const Node& ix = *in[1];
  const std::vector<int64_t> idx = read_indices(ix, a.shape[axis_], name(), axis_);
  out.allocate();
  if (out.size() == 0) return;
  Strides as = a.strides;
  const int64_t step = as[axis_];
  as[axis_] = 0;
  const Strides os = row_strides(out.shape);  // also the strides of idx
  dispatch_size(a.dtype.size(), [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* dst = out.data<T>();
    cpu::for_each_row<2>(out.shape, {&as, &os}, [&](auto off, int64_t n, auto st) {
      const T* s = src + off[0];
      T* d = dst + off[1];
      const int64_t* k = idx.data() + off[1];
      for (int64_t i = 0; i < n; ++i) d[i * st[1]] = s[i * st[0] + k[i * st[1]] * step];
    });
  });
}

void PutAlongAxis::eval_cpu(const NodeList& in, Node& out) {
  Node& a = *in[0];
  const Node& ix = *in[1];
  const Node& values = *in[2];
  const std::vector<int64_t> idx = read_indices(ix, a.shape[axis_], name(), axis_);
  cpu::copy_or_donate(a, out);
  if (idx.empty()) return;
  Strides os = row_strides(out.shape);
  const int64_t step = os[axis_];
  os[axis_] = 0;
  const Strides is = row_strides(ix.shape);
  dispatch_size(out.dtype.size(), [&](auto t) {
    using T = decltype(t);
    const T* v = values.data<T>();
    T* dst = out.data<T>();
    cpu::for_each_row<3>(ix.shape, {&os, &is, &values.strides}, [&](auto off, int64_t n, auto st) {
      T* d = dst + off[0];
      const int64_t* k = idx.data() + off[1];
      const T* s = v + off[2];
      for (int64_t i = 0; i < n; ++i) {
        d[i * st[0] + k[i * st[1]] * step] = s[i * st[2]];
      }
    });
  });
}

namespace {

template <typename T>
void accumulate(T* dst, const T* src, int64_t n) {
  if constexpr (std::is_same_v<T, bool>) {
    for (int64_t i = 0; i < n; ++i) dst[i] = dst[i] || src[i];
  } else {
    using C = compute_t<T>;
    for (int64_t i = 0; i < n; ++i) dst[i] = T(static_cast<C>(dst[i]) + static_cast<C>(src[i]));
  }
}

}  // namespace

void Scatter::eval_cpu(const NodeList& in, Node& out) {
  Node& a = *in[0];
  const Node& ix = *in[1];
  const Node& updates = *in[2];
  const std::vector<int64_t> idx = read_indices(ix, a.shape[axis_], name(), axis_);
  cpu::copy_or_donate(a, out);
  if (idx.empty() || updates.size() == 0) return;
  const size_t es = out.dtype.size();
  const int nd = static_cast<int>(out.shape.size());
  const int64_t pre = prod(out.shape, 0, axis_), n = out.shape[axis_];
  const int64_t inner = prod(out.shape, axis_ + 1, nd);
  const int64_t m = static_cast<int64_t>(idx.size());
  std::vector<char> tmp;
  const char* src = row_major(updates, tmp);
  char* dst = static_cast<char*>(out.raw());
  const size_t row = inner * es;
  if (reduce_ == ScatterReduce::assign) {
    for (int64_t o = 0; o < pre; ++o) {
      for (int64_t j = 0; j < m; ++j, src += row) {
        std::memcpy(dst + (o * n + idx[j]) * row, src, row);
      }
    }
    return;
  }
  dispatch_dtype(out.dtype, [&](auto t) {
    using T = decltype(t);
    for (int64_t o = 0; o < pre; ++o) {
      for (int64_t j = 0; j < m; ++j, src += row) {
        accumulate(reinterpret_cast<T*>(dst + (o * n + idx[j]) * row),
                   reinterpret_cast<const T*>(src), inner);
      }
    }
  });
}

}  // namespace lathe
