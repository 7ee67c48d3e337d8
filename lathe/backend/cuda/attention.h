// Which CUDA kernels scaled_dot_product_attention may use. The product always
// runs `fast` (split-KV decode, tensor-core prefill, the generic kernel for
// what those cannot take); benchmarks and tests switch to `generic_only` to
// compare against the one-block-per-query-row kernel.
#pragma once

#include <cstdint>

namespace lathe::cuda {

enum class AttentionKernels { fast, generic_only };

void set_attention_kernels(AttentionKernels kernels);
AttentionKernels attention_kernels();

// Launches of each path since the process started (tests check which path a
// shape takes).
struct AttentionLaunches {
  uint64_t decode = 0, prefill = 0, generic = 0;
};
AttentionLaunches attention_launches();

}  // namespace lathe::cuda
