// Block kernels of fused programs on the CPU: each runs one instruction over a
// block of register values, with the op and types fixed at compile time.
#pragma once

#include <cstdint>

#include "lathe/primitives/compiled.h"

namespace lathe::cpu::fused {

// Elements per block: registers of 256 values stay in L1 and loops vectorize.
inline constexpr int64_t block = 256;

// src (dtype elements, stride in elements) -> register (compute type).
using LoadFn = void (*)(const void* src, int64_t stride, void* reg, int64_t n);
// register (compute type) -> dst (dtype elements, contiguous).
using StoreFn = void (*)(const void* reg, void* dst, int64_t n);
// y = op(a, b, c) over n register values.
using OpFn = void (*)(const void* a, const void* b, const void* c, void* y, int64_t n);
// Rounds register values to what a 16-bit float holds.
using RoundFn = void (*)(void* y, int64_t n);

LoadFn load_fn(Dtype d);
StoreFn store_fn(Dtype d);
// Throws lathe::Error for an op the dtype does not support (as the unfused kernels do).
OpFn op_fn(const FusedOp& op);
// nullptr unless d is float16 or bfloat16.
RoundFn round_fn(Dtype d);

}  // namespace lathe::cpu::fused
