// Reading and writing single arrays in numpy's .npy format.
#pragma once

#include <string>

#include "lathe/core/array.h"

namespace lathe::io {

// Reads an .npy file (format 1.0, 2.0 or 3.0; either byte order; C or Fortran
// order) into an array: b1 -> bool, u1 -> uint8, i1 -> int8, i2/u2 -> int32
// (widened), i4 -> int32, u4 -> uint32, i8 -> int64, f2 -> float16,
// f4 -> float32, f8 -> float64. A Fortran-order file loads as the transposed
// view of its data. Damaged or unsupported files are a lathe::Error naming
// the file.
Array load_npy(const std::string& path);

// Writes `a` as numpy.save would write the same array: version 1.0 (2.0 for a
// header over 64 KiB), little-endian descr, Fortran order when `a` is a
// Fortran-contiguous view that is not C-contiguous (a transpose), else C order.
// bfloat16 has no npy type code and is refused.
void save_npy(const std::string& path, const Array& a);

}  // namespace lathe::io
