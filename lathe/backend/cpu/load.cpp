// Load on the CPU: view the mapped bytes when the dtype needs no conversion
// and the address is aligned; otherwise convert into a fresh buffer.
#include "lathe/primitives/load.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "lathe/core/half.h"

namespace lathe {

namespace {

// 8-bit floats to float (exact), by their bit layouts.
float f8_e4m3_to_float(uint8_t b) {
  uint32_t sign = b >> 7, exp = (b >> 3) & 0xf, mant = b & 0x7;
  float v;
  if (exp == 0xf && mant == 0x7) return std::numeric_limits<float>::quiet_NaN();  // E4M3FN: no inf
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -9);  // subnormal: mant * 2^-6 / 8
  } else {
    v = std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, static_cast<int>(exp) - 7);
  }
  return sign ? -v : v;
}

float f8_e5m2_to_float(uint8_t b) {
  // E5M2 is the top byte of an IEEE float16.
  return float16_t::to_float(static_cast<uint16_t>(b) << 8);
}

}  // namespace

void Load::eval_cpu(const NodeList&, detail::Node& out) {
  const uint8_t* src = file_->data() + offset_;
  size_t n = out.size();
  size_t item = io::st_itemsize(dtype_);
  bool native = item == out.dtype.size();
  if (native && reinterpret_cast<uintptr_t>(src) % item == 0) {
    auto keep = std::static_pointer_cast<const void>(file_);
    out.buffer = std::make_shared<Buffer>(const_cast<uint8_t*>(src), n * item, std::move(keep));
    out.offset = 0;
    out.strides = row_strides(out.shape);
    out.data_size = n;
    out.contiguous = true;
    return;
  }
  out.allocate();
  if (native) {
    std::memcpy(out.raw(), src, n * item);
    return;
  }
  switch (dtype_) {
    case io::StDtype::I16: {
      auto* o = out.data<int32_t>();
      for (size_t i = 0; i < n; ++i) {
        int16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        o[i] = v;
      }
      return;
    }
    case io::StDtype::U16: {
      auto* o = out.data<int32_t>();
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        o[i] = v;
      }
      return;
    }
    case io::StDtype::F8_E4M3: {
      auto* o = out.data<bfloat16_t>();
      for (size_t i = 0; i < n; ++i) o[i] = bfloat16_t(f8_e4m3_to_float(src[i]));
      return;
    }
    case io::StDtype::F8_E5M2: {
      auto* o = out.data<bfloat16_t>();
      for (size_t i = 0; i < n; ++i) o[i] = bfloat16_t(f8_e5m2_to_float(src[i]));
      return;
    }
    default:
      throw Error(std::string("[load] no conversion from ") + io::st_name(dtype_) + " to " +
                  out.dtype.name());
  }
}

}  // namespace lathe
