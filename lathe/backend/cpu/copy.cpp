// Strided-to-contiguous copies and dtype conversion on the CPU.
#include <cstring>

#include "lathe/backend/cpu/strided.h"

namespace lathe {

namespace {
template <typename From, typename To>
void convert_loop(const From* s, To* d, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<To, bool>) {
      d[i] = static_cast<compute_t<From>>(s[i]) != compute_t<From>(0);
    } else if constexpr (std::is_same_v<To, float16_t> || std::is_same_v<To, bfloat16_t>) {
      d[i] = To(static_cast<float>(static_cast<compute_t<From>>(s[i])));
    } else {
      d[i] = static_cast<To>(static_cast<compute_t<From>>(s[i]));
    }
  }
}
}  // namespace

void convert_elements(const void* src, Dtype from, void* dst, Dtype to, size_t n) {
  if (n == 0) return;
  if (from == to) {
    std::memcpy(dst, src, n * from.size());
    return;
  }
  dispatch_dtype(from, [&](auto f) {
    using F = decltype(f);
    dispatch_dtype(to, [&](auto t) {
      using T = decltype(t);
      convert_loop(static_cast<const F*>(src), static_cast<T*>(dst), n);
    });
  });
}

namespace cpu {

namespace {
template <typename T>
void gather_typed(const detail::Node& src, T* dst) {
  const T* s = src.data<T>();
  Strides out = row_strides(src.shape);
  for_each_row<2>(src.shape, {&src.strides, &out}, [&](auto off, int64_t n, auto st) {
    const T* a = s + off[0];
    T* b = dst + off[1];
    if (st[0] == 1) {
      std::memcpy(b, a, n * sizeof(T));
    } else {
      for (int64_t i = 0; i < n; ++i) b[i] = a[i * st[0]];
    }
  });
}
}  // namespace

void gather_contiguous(const detail::Node& src, void* dst) {
  if (src.contiguous) {
    std::memcpy(dst, src.raw(), src.nbytes());
    return;
  }
  switch (src.dtype.size()) {
    case 1: gather_typed(src, static_cast<uint8_t*>(dst)); break;
    case 2: gather_typed(src, static_cast<uint16_t*>(dst)); break;
    case 4: gather_typed(src, static_cast<uint32_t*>(dst)); break;
    default: gather_typed(src, static_cast<uint64_t*>(dst)); break;
  }
}

}  // namespace cpu
}  // namespace lathe
