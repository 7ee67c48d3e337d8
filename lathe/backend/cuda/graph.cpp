// Device graphs on CUDA: stream capture of one evaluation's kernels, and
// their replay (ReplayGraph). While recording, the allocator hands every new
// buffer to the recording as well, so that the addresses baked into the
// graph are never given to other arrays while it lives.
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "lathe/backend/cuda/allocator.h"
#include "lathe/backend/cuda/runtime.h"
#include "lathe/backend/device.h"
#include "lathe/primitives/device_graph.h"

namespace lathe {

namespace detail {

std::shared_ptr<RecordedWork> cuda_record(const std::function<void()>& launch) {
  static std::mutex one_at_a_time;  // the allocator holds one recording's buffers at a time
  std::lock_guard lk(one_at_a_time);
  cudaStream_t s = cuda::current_stream();
  auto work = std::make_shared<RecordedWork>();
  cuda::device_allocator().hold_new_buffers(&work->held);
  // Relaxed: the stream worker thread allocates (cudaMalloc) while this thread records.
  cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), "device_graph");
  cudaGraph_t graph = nullptr;
  try {
    launch();
  } catch (...) {
    cudaStreamEndCapture(s, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    cuda::device_allocator().hold_new_buffers(nullptr);
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(s, &graph);
  cuda::device_allocator().hold_new_buffers(nullptr);
  if (ended != cudaSuccess || !graph) {
    if (graph) cudaGraphDestroy(graph);
    cuda::check(ended == cudaSuccess ? cudaErrorStreamCaptureInvalidated : ended,
                "device_graph: the work could not be recorded (a host wait inside it?)");
  }
  size_t nodes = 0;
  cudaGraphGetNodes(graph, nullptr, &nodes);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  cuda::check(made, "device_graph");
  work->nodes = nodes;
  work->graph = std::shared_ptr<void>(
      exec, [](void* e) { cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(e)); });
  return work;
}

}  // namespace detail

void ReplayGraph::eval_cuda(const NodeList& in, detail::Node& out) {
  cudaStream_t s = cuda::current_stream();
  const auto& w = *work_;
  for (size_t i = 0; i < in.size(); ++i) {
    const detail::Node& x = *in[i];
    const auto& r = w.inputs[i];
    char* dst = static_cast<char*>(r.buffer->ptr()) + r.offset;
    if (!x.contiguous || x.data_size != x.size()) {
      throw Error("[replay_graph] input " + std::to_string(i) + " must be contiguous");
    }
    if (x.raw() != dst) {
      cuda::check(cudaMemcpyAsync(dst, x.raw(), r.bytes, cudaMemcpyDeviceToDevice, s),
                  "replay_graph");
    }
  }
  cuda::check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(w.graph.get()), s), "replay_graph");
  out.allocate();
  const char* src = static_cast<const char*>(w.output.buffer->ptr()) + w.output.offset;
  cuda::check(cudaMemcpyAsync(out.raw(), src, w.output.bytes, cudaMemcpyDeviceToDevice, s),
              "replay_graph");
}

}  // namespace lathe
