// CUDA C++ source of one fused elementwise region (compile's Compiled
// primitive) for one way of walking its operands; NVRTC compiles it at run time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lathe/primitives/compiled.h"

namespace lathe::cuda {

// How one launch reads the region's inputs and indexes its output.
struct FusedVariant {
  enum class Access : uint8_t {
    constant,  // a scalar constant built into the source (not read at all)
    uniform,   // one value for the whole output: read once per thread
    streamed,  // read element by element
  };
  std::vector<Access> access;  // per program input
  // 0: contiguous path, every streamed input dense and aligned with the output;
  // else the strided path over this many (collapsed) dimensions.
  int ndim = 0;
  int vector = 1;           // contiguous path: consecutive elements per thread and step
  bool wide_index = false;  // strided path: 64-bit linear index (2^31 elements or more)
  bool operator==(const FusedVariant& o) const = default;
};

// The kernel's name in the generated source.
inline constexpr const char* fused_kernel_name = "lathe_fused";

// Kernel parameters (one struct, 8-byte fields): n, out, the pointers of the
// non-constant inputs in program order, then for the strided path the shape
// (ndim) and the strides of each streamed input (ndim each), in elements.
// Null when the program uses something the generator does not handle (the
// caller then runs the region op by op).
std::optional<std::string> fused_source(const FusedProgram& program, Dtype out_dtype,
                                        const FusedVariant& variant);

}  // namespace lathe::cuda
