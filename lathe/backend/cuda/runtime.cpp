// CUDA runtime glue: device detection, one GPU stream per lathe stream,
// the scheduler's entry points, and the default eval_cuda.
#include "lathe/backend/cuda/runtime.h"

#include <mutex>
#include <unordered_map>

#include "lathe/backend/cuda/allocator.h"
#include "lathe/backend/device.h"
#include "lathe/core/scheduler.h"

namespace lathe {

void Primitive::eval_cuda(const NodeList&, detail::Node&) {
  throw Error(std::string("[") + name() + "] not implemented on cuda yet");
}

bool cuda_available() {
  static const bool available = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return n > 0;
  }();
  return available;
}

namespace cuda {

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw Error(std::string("[") + what + "] CUDA error: " + cudaGetErrorName(err) + ": " +
              cudaGetErrorString(err));
}

void check_launch(const char* what) { check(cudaGetLastError(), what); }

namespace {

std::mutex streams_mu;
std::unordered_map<int, cudaStream_t>& streams() {
  static auto* m = new std::unordered_map<int, cudaStream_t>();  // lives to exit
  return *m;
}

cudaStream_t stream_of(int id) {
  std::lock_guard lk(streams_mu);
  auto& m = streams();
  auto it = m.find(id);
  if (it != m.end()) return it->second;
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream");
  m.emplace(id, s);
  return s;
}

}  // namespace

// Null when the lathe stream never ran GPU work (then there is nothing to wait for).
cudaStream_t existing_stream(int id) {
  std::lock_guard lk(streams_mu);
  auto it = streams().find(id);
  return it == streams().end() ? nullptr : it->second;
}

int current_stream_id() { return detail::current_stream(); }
cudaStream_t current_stream() { return stream_of(current_stream_id()); }

int sm_count() {
  static const int n = [] {
    int dev = 0, count = 0;
    check(cudaGetDevice(&dev), "device");
    check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, dev), "device");
    return count;
  }();
  return n;
}

unsigned grid_for(size_t n, unsigned threads) {
  size_t blocks = (n + threads - 1) / threads;
  size_t cap = static_cast<size_t>(sm_count()) * 16;
  if (blocks > cap) blocks = cap;
  return static_cast<unsigned>(blocks == 0 ? 1 : blocks);
}

void order_buffer(const Buffer& buffer) {
  if (!buffer.owned()) return;
  device_allocator().order(buffer.ptr(), current_stream_id(), [](int other) {
    cudaEvent_t ev = nullptr;
    check(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "stream order");
    check(cudaEventRecord(ev, stream_of(other)), "stream order");
    check(cudaStreamWaitEvent(current_stream(), ev, 0), "stream order");
    cudaEventDestroy(ev);
  });
}

std::shared_ptr<Buffer> scratch(size_t bytes) { return cuda_allocator().allocate(bytes); }

}  // namespace cuda

namespace detail {

void eval_on_cuda(Primitive& prim, const NodeList& inputs, Node& out) {
  for (Node* in : inputs) {
    if (in->device == Device::cuda && in->buffer) cuda::order_buffer(*in->buffer);
  }
  prim.eval_cuda(inputs, out);
  cuda::check_launch(prim.name());
}

void cuda_synchronize(int stream) {
  cudaStream_t s = cuda::existing_stream(stream);
  if (s) cuda::check(cudaStreamSynchronize(s), "synchronize");
}

}  // namespace detail

}  // namespace lathe
