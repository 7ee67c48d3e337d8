// The backend seam: which devices this build of lathe can run on, and the
// entry points the scheduler uses for GPU work.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "lathe/core/primitive.h"

namespace lathe {

// True when lathe was built with the CUDA backend and a GPU is present.
bool cuda_available();

// The CUDA backend's run-time compiled kernels for compile()'s fused regions,
// counted since the process started (all zero without the CUDA backend).
struct FusedKernelStats {
  size_t launches = 0;       // regions run as one generated kernel
  size_t fallbacks = 0;      // regions run op by op (no NVRTC, a compile failure, a limit)
  size_t compiles = 0;       // sources compiled by NVRTC
  size_t disk_hits = 0;      // kernels loaded from the disk cache instead
  size_t disk_writes = 0;    // kernels written to the disk cache
  size_t disk_rejected = 0;  // cache files found corrupt or unusable (then rebuilt)
  double compile_seconds = 0;
  std::string last_failure;  // why the last fallback happened
};
FusedKernelStats fused_kernel_stats();

namespace detail {
// A recording of GPU work (core/device_graph.h): the backend's graph, the buffers
// allocated while recording (the graph's own), and where it reads its inputs and
// writes its output.
struct RecordedWork {
  std::shared_ptr<void> graph;  // the backend's executable graph
  size_t nodes = 0;
  std::vector<std::shared_ptr<Buffer>> held;
  struct Region {
    std::shared_ptr<Buffer> buffer;
    size_t offset = 0, bytes = 0;
  };
  std::vector<Region> inputs;
  Region output;
};
// Records the GPU work that `launch` queues on this thread's stream (launch must
// not wait for the GPU). Throws lathe::Error when it cannot be recorded.
std::shared_ptr<RecordedWork> cuda_record(const std::function<void()>& launch);
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
