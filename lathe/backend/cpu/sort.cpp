// CPU kernels of the sorting primitives: each line along the axis is copied
// into a buffer of compute-type keys (float for 16-bit floats), then sorted,
// partitioned or top-k selected with the standard algorithms.
#include "lathe/primitives/sort.h"

#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>

#include "lathe/backend/cpu/lines.h"

namespace lathe {

using detail::Node;

namespace {

// Strict weak order with NaN after every number (NaNs are equivalent).
template <typename K>
inline bool key_less(K a, K b) {
  if constexpr (std::is_floating_point_v<K>) {
    return a < b || (b != b && a == a);
  } else {
    return a < b;
  }
}

template <typename T>
class LineSorter {
 public:
  using K = compute_t<T>;

  LineSorter(SortOp op, int64_t n, int64_t kth) : op_(op), n_(n), kth_(kth) {
    keys_.resize(n);
    if (op != SortOp::sort && op != SortOp::partition) idx_.resize(n);
  }

  void run(const T* src, int64_t in_stride, void* dst, int64_t out_stride) {
    for (int64_t i = 0; i < n_; ++i) keys_[i] = static_cast<K>(src[i * in_stride]);
    switch (op_) {
      case SortOp::sort:
        std::stable_sort(keys_.begin(), keys_.end(), key_less<K>);
        return write_keys(static_cast<T*>(dst), n_, out_stride);
      case SortOp::partition:
        std::nth_element(keys_.begin(), keys_.begin() + kth_, keys_.end(), key_less<K>);
        return write_keys(static_cast<T*>(dst), n_, out_stride);
      case SortOp::argsort:
        reset_indices();
        std::sort(idx_.begin(), idx_.end(), ascending());
        return write_indices(static_cast<uint32_t*>(dst), n_, out_stride);
      case SortOp::argpartition:
        reset_indices();
        std::nth_element(idx_.begin(), idx_.begin() + kth_, idx_.end(), ascending());
        return write_indices(static_cast<uint32_t*>(dst), n_, out_stride);
      case SortOp::topk:
      case SortOp::topk_indices:
        select_top();
        if (op_ == SortOp::topk_indices) {
          return write_indices(static_cast<uint32_t*>(dst), kth_, out_stride);
        }
        for (int64_t i = 0; i < kth_; ++i) {
          static_cast<T*>(dst)[i * out_stride] = static_cast<T>(keys_[idx_[i]]);
        }
        return;
    }
  }

 private:
  void reset_indices() { std::iota(idx_.begin(), idx_.end(), uint32_t{0}); }

  // Ties broken by index: a total order, so results do not depend on the algorithm.
  auto ascending() const {
    return [this](uint32_t i, uint32_t j) {
      K a = keys_[i], b = keys_[j];
      return key_less(a, b) || (!key_less(b, a) && i < j);
    };
  }

  // Largest first, equal values in their original order.
  void select_top() {
    reset_indices();
    auto descending = [this](uint32_t i, uint32_t j) {
      K a = keys_[i], b = keys_[j];
      return key_less(b, a) || (!key_less(a, b) && i < j);
    };
    if (kth_ < n_) {
      std::nth_element(idx_.begin(), idx_.begin() + kth_, idx_.end(), descending);
    }
    std::sort(idx_.begin(), idx_.begin() + kth_, descending);
  }

  void write_keys(T* dst, int64_t count, int64_t stride) {
    for (int64_t i = 0; i < count; ++i) dst[i * stride] = static_cast<T>(keys_[i]);
  }
  void write_indices(uint32_t* dst, int64_t count, int64_t stride) {
    for (int64_t i = 0; i < count; ++i) dst[i * stride] = idx_[i];
  }

  SortOp op_;
  int64_t n_, kth_;
  std::vector<K> keys_;
  std::vector<uint32_t> idx_;
};

}  // namespace

void Sort::eval_cpu(const NodeList& inputs, Node& out) {
  const Node& in = *inputs[0];
  out.allocate();
  if (out.size() == 0) return;
  const Strides os = row_strides(out.shape);
  const int64_t n = in.shape[axis_];
  const int64_t is = in.strides[axis_];
  const int64_t ost = os[axis_];
  char* o = static_cast<char*>(out.raw());
  const size_t osize = out.dtype.size();
  dispatch_dtype(in.dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in.data<T>();
    LineSorter<T> sorter(op_, n, kth_);
    cpu::for_each_line(in.shape, in.strides, os, axis_, [&](int64_t io, int64_t oo) {
      sorter.run(x + io, is, o + oo * osize, ost);
    });
  });
}

}  // namespace lathe
