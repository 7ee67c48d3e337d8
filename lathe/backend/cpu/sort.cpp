// CPU kernels of the sorting primitives: each line along the axis is copied
// into a buffer of compute-type keys (float for 16-bit floats), then sorted,
// partitioned or top-k selected with the standard algorithms.
#include "lathe/primitives/sort.h"

#include <algorithm>
#include <cmath>
#include <memory>
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
    return a < b || (std::isnan(b) && !std::isnan(a));
  } else {
    return a < b;
  }
}

template <typename T>
class LineSorter {
 public:
  // Keys in the compute type; bool as uint8 (std::vector<bool> is packed).
  using K = std::conditional_t<std::is_same_v<T, bool>, uint8_t, compute_t<T>>;

  // Few of many (a sampler's top-k over a vocabulary) take a heap pass over
  // the source; everything else works on line-sized key and index buffers.
  LineSorter(SortOp op, int64_t n, int64_t kth)
      : op_(op),
        n_(n),
        kth_(kth),
        use_heap_((op == SortOp::topk || op == SortOp::topk_indices) && kth > 0 && kth * 64 <= n) {
    if (use_heap_) return;
    // Line buffers from the caching allocator: a fresh large malloc per call would page-fault.
    key_buffer_ = cpu_allocator().allocate(n * sizeof(K));
    keys_ = static_cast<K*>(key_buffer_->ptr());
    if (op != SortOp::sort && op != SortOp::partition) {
      index_buffer_ = cpu_allocator().allocate(n * sizeof(uint32_t));
      idx_ = static_cast<uint32_t*>(index_buffer_->ptr());
    }
  }

  void run(const T* src, int64_t in_stride, void* dst, int64_t out_stride) {
    if (use_heap_) {
      heap_top(src, in_stride);
      if (op_ == SortOp::topk_indices) {
        return write_indices(static_cast<uint32_t*>(dst), kth_, out_stride);
      }
      for (int64_t i = 0; i < kth_; ++i) {
        static_cast<T*>(dst)[i * out_stride] = src[idx_[i] * in_stride];
      }
      return;
    }
    for (int64_t i = 0; i < n_; ++i) keys_[i] = key(src[i * in_stride]);
    switch (op_) {
      case SortOp::sort:
        std::stable_sort(keys_, keys_ + n_, key_less<K>);
        return write_keys(static_cast<T*>(dst), n_, out_stride);
      case SortOp::partition:
        std::nth_element(keys_, keys_ + kth_, keys_ + n_, key_less<K>);
        return write_keys(static_cast<T*>(dst), n_, out_stride);
      case SortOp::argsort:
        reset_indices();
        std::sort(idx_, idx_ + n_, ascending());
        return write_indices(static_cast<uint32_t*>(dst), n_, out_stride);
      case SortOp::argpartition:
        reset_indices();
        std::nth_element(idx_, idx_ + kth_, idx_ + n_, ascending());
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
  void reset_indices() { std::iota(idx_, idx_ + n_, uint32_t{0}); }

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
      std::nth_element(idx_, idx_ + kth_, idx_ + n_, descending);
    }
    std::sort(idx_, idx_ + kth_, descending);
  }

  static K key(T v) { return static_cast<K>(static_cast<compute_t<T>>(v)); }

  // Keeps the k best in a heap whose top is the worst kept. A later equal
  // value never displaces an earlier one, which keeps ties in index order.
  void heap_top(const T* src, int64_t stride) {
    auto better = [src, stride](uint32_t i, uint32_t j) {
      K a = key(src[i * stride]), b = key(src[j * stride]);
      return key_less(b, a) || (!key_less(a, b) && i < j);
    };
    std::vector<uint32_t>& h = heap_;
    h.resize(kth_);
    std::iota(h.begin(), h.end(), uint32_t{0});
    std::make_heap(h.begin(), h.end(), better);
    K worst = key(src[h.front() * stride]);
    for (int64_t i = kth_; i < n_; ++i) {
      if (!key_less(worst, key(src[i * stride]))) continue;
      std::pop_heap(h.begin(), h.end(), better);
      h.back() = static_cast<uint32_t>(i);
      std::push_heap(h.begin(), h.end(), better);
      worst = key(src[h.front() * stride]);
    }
    std::sort_heap(h.begin(), h.end(), better);
    idx_ = h.data();
  }

  void write_keys(T* dst, int64_t count, int64_t stride) {
    for (int64_t i = 0; i < count; ++i) dst[i * stride] = static_cast<T>(keys_[i]);
  }
  void write_indices(uint32_t* dst, int64_t count, int64_t stride) {
    for (int64_t i = 0; i < count; ++i) dst[i * stride] = idx_[i];
  }

  SortOp op_;
  int64_t n_, kth_;
  bool use_heap_;
  std::shared_ptr<Buffer> key_buffer_, index_buffer_;
  K* keys_ = nullptr;
  uint32_t* idx_ = nullptr;
  std::vector<uint32_t> heap_;  // the kept indices of heap_top
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
