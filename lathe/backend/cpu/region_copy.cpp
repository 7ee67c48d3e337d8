// Strided region copies and fills by element size (1, 2, 4 or 8 bytes), so
// data movement is instantiated four times, not once per dtype.
#include "lathe/backend/cpu/region_copy.h"

#include <cstdint>
#include <cstring>

#include "lathe/backend/cpu/strided.h"

namespace lathe::cpu {

namespace {

template <typename T>
void copy_typed(const T* src, const Strides& ss, T* dst, const Strides& ds, const Shape& shape) {
  for_each_row<2>(shape, {&ss, &ds}, [&](auto off, int64_t n, auto st) {
    const T* a = src + off[0];
    T* b = dst + off[1];
    if (st[0] == 1 && st[1] == 1) {
      std::memcpy(b, a, n * sizeof(T));
    } else {
      for (int64_t i = 0; i < n; ++i) b[i * st[1]] = a[i * st[0]];
    }
  });
}

template <typename T>
void fill_typed(T* dst, const void* value, size_t n) {
  T v;
  std::memcpy(&v, value, sizeof(T));
  for (size_t i = 0; i < n; ++i) dst[i] = v;
}

}  // namespace

void copy_region(const void* src, const Strides& ss, void* dst, const Strides& ds,
                 const Shape& shape, size_t es) {
  switch (es) {
    case 1:
      copy_typed(static_cast<const uint8_t*>(src), ss, static_cast<uint8_t*>(dst), ds, shape);
      break;
    case 2:
      copy_typed(static_cast<const uint16_t*>(src), ss, static_cast<uint16_t*>(dst), ds, shape);
      break;
    case 4:
      copy_typed(static_cast<const uint32_t*>(src), ss, static_cast<uint32_t*>(dst), ds, shape);
      break;
    default:
      copy_typed(static_cast<const uint64_t*>(src), ss, static_cast<uint64_t*>(dst), ds, shape);
      break;
  }
}

void fill_elements(void* dst, const void* value, size_t n, size_t es) {
  switch (es) {
    case 1: std::memset(dst, *static_cast<const uint8_t*>(value), n); break;
    case 2: fill_typed(static_cast<uint16_t*>(dst), value, n); break;
    case 4: fill_typed(static_cast<uint32_t*>(dst), value, n); break;
    default: fill_typed(static_cast<uint64_t*>(dst), value, n); break;
  }
}

void copy_or_donate(detail::Node& src, detail::Node& out) {
  if (src.donatable() && src.dtype == out.dtype && src.shape == out.shape) {
    out.donate_from(src);
    return;
  }
  out.allocate();
  copy_region(src.raw(), src.strides, out.raw(), out.strides, out.shape, out.dtype.size());
}

}  // namespace lathe::cpu
