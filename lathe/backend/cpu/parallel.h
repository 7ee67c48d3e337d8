// A minimal fork-join loop over a few std::threads, for the memory-bound
// kernels (matrix-vector products, quantized matmul) that BLAS does not cover.
#pragma once

#include <cstdint>
#include <functional>

namespace lathe::cpu {

// The number of threads parallel_for may use (hardware threads, at most 8).
int max_threads();

// Calls f(begin, end) on disjoint chunks covering [0, n), up to 4 per thread, taken by
// whichever thread is free. Each chunk has at least `grain` items, so small loops run
// inline on the calling thread.
// Exceptions thrown by f are rethrown on the calling thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

}  // namespace lathe::cpu
