#include "lathe/core/dtype.h"

#include <algorithm>

#include "lathe/core/error.h"

namespace lathe {

size_t Dtype::size() const {
  switch (val) {
    case Val::bool_:
    case Val::uint8:
    case Val::int8: return 1;
    case Val::float16:
    case Val::bfloat16: return 2;
    case Val::uint32:
    case Val::int32:
    case Val::float32: return 4;
    case Val::int64:
    case Val::float64: return 8;
  }
  return 0;
}

DtypeKind Dtype::kind() const {
  switch (val) {
    case Val::bool_: return DtypeKind::boolean;
    case Val::uint8:
    case Val::uint32: return DtypeKind::unsigned_int;
    case Val::int8:
    case Val::int32:
    case Val::int64: return DtypeKind::signed_int;
    default: return DtypeKind::floating;
  }
}

const char* Dtype::name() const {
  switch (val) {
    case Val::bool_: return "bool";
    case Val::uint8: return "uint8";
    case Val::uint32: return "uint32";
    case Val::int8: return "int8";
    case Val::int32: return "int32";
    case Val::int64: return "int64";
    case Val::float16: return "float16";
    case Val::bfloat16: return "bfloat16";
    case Val::float32: return "float32";
    case Val::float64: return "float64";
  }
  return "?";
}

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  auto ka = a.kind(), kb = b.kind();
  if (ka == DtypeKind::boolean) return b;
  if (kb == DtypeKind::boolean) return a;
  if (ka == DtypeKind::floating && kb == DtypeKind::floating) {
    // float16 with bfloat16 has no exact common 16-bit type.
    if ((a == float16 && b == bfloat16) || (a == bfloat16 && b == float16)) return float32;
    return a.size() >= b.size() ? a : b;
  }
  if (ka == DtypeKind::floating) return a;
  if (kb == DtypeKind::floating) return b;
  // Both integers.
  if (ka == kb) return a.size() >= b.size() ? a : b;
  Dtype u = ka == DtypeKind::unsigned_int ? a : b;
  Dtype s = ka == DtypeKind::unsigned_int ? b : a;
  if (s.size() > u.size()) return s;
  return u.size() < 4 ? int32 : int64;  // no int16: uint8 with int8 widens to int32
}

Dtype dtype_from_string(const std::string& s) {
  std::string t = s;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "bool") return bool_;
  if (t == "uint8" || t == "u8") return uint8;
  if (t == "uint32" || t == "u32") return uint32;
  if (t == "int8" || t == "i8") return int8;
  if (t == "int32" || t == "i32") return int32;
  if (t == "int64" || t == "i64") return int64;
  if (t == "float16" || t == "f16" || t == "half") return float16;
  if (t == "bfloat16" || t == "bf16") return bfloat16;
  if (t == "float32" || t == "f32" || t == "float") return float32;
  if (t == "float64" || t == "f64" || t == "double") return float64;
  throw Error("unknown dtype '" + s +
              "' (expected one of bool, uint8, uint32, int8, int32, int64, float16, bfloat16, "
              "float32, float64)");
}

}  // namespace lathe
