// The CUDA backend's runtime: error checks, the GPU stream of each lathe
// stream, launch sizes, and the cross-stream ordering of buffers.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "lathe/core/primitive.h"

namespace lathe::cuda {

// Throws lathe::Error("[what] CUDA error: ...") unless err is cudaSuccess.
void check(cudaError_t err, const char* what);
// Checks the last kernel launch.
void check_launch(const char* what);

// The GPU stream of the lathe stream whose task runs on this thread.
cudaStream_t current_stream();
int current_stream_id();
cudaStream_t existing_stream(int id);

int sm_count();
// Blocks for a grid-stride loop over n items with `threads` threads a block.
unsigned grid_for(size_t n, unsigned threads = 256);

// Orders the current stream after the GPU work of every other stream that
// used this buffer (no-op for a buffer only this stream has used).
void order_buffer(const Buffer& buffer);

// A GPU buffer for temporaries of one kernel (counted by the allocator).
std::shared_ptr<Buffer> scratch(size_t bytes);

}  // namespace lathe::cuda
