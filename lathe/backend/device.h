// The backend seam: which devices this build of lathe can run on, and the
// entry points the scheduler uses for GPU work.
#pragma once

#include "lathe/core/primitive.h"

namespace lathe {

// True when lathe was built with the CUDA backend and a GPU is present.
bool cuda_available();

namespace detail {
// Runs a node that lives on the GPU or reads GPU memory (a copy to the host):
// orders its inputs on the current stream, then calls prim.eval_cuda.
void eval_on_cuda(Primitive& prim, const NodeList& inputs, Node& out);
// Waits until the GPU work queued on lathe stream `stream` is done.
void cuda_synchronize(int stream);
// An event recorded now on the current GPU stream (after the kernels launched so far).
std::shared_ptr<void> cuda_record_ready();
// Copies a computed, contiguous GPU node to host memory once its `ready` event has fired,
// on a stream of its own (so the copy does not wait for later work on the node's stream).
void cuda_read_ready(const Node& n, void* dst);
}  // namespace detail

}  // namespace lathe
