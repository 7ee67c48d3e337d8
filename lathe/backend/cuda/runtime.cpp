// CUDA runtime glue: device detection, one GPU stream per lathe stream,
// the scheduler's entry points, and the default eval_cuda.
#include "lathe/backend/cuda/runtime.h"

#include <mutex>
#include <string>
#include <vector>
#include <unordered_map>

#include "lathe/backend/cuda/allocator.h"
#include "lathe/backend/cuda/device_errors.h"
#include "lathe/backend/device.h"
#include "lathe/core/profile.h"
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

namespace {
// The host's view of the mapped error record (null until a kernel asked for it).
DeviceError*& host_record() {
  static DeviceError* p = nullptr;
  return p;
}
}  // namespace

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

namespace {
std::mutex errors_mu;
std::vector<const char*>& op_names() {
  static auto* v = new std::vector<const char*>();  // lives to exit
  return *v;
}
}  // namespace

DeviceError* device_error_record() {
  static DeviceError* record = [] {
    void* p = nullptr;
    check(cudaHostAlloc(&p, sizeof(DeviceError), cudaHostAllocMapped), "device errors");
    *static_cast<DeviceError*>(p) = DeviceError{};
    void* dev = nullptr;
    check(cudaHostGetDevicePointer(&dev, p, 0), "device errors");
    host_record() = static_cast<DeviceError*>(p);
    return static_cast<DeviceError*>(dev);
  }();
  return record;
}

int op_code(const char* op) {
  std::lock_guard lk(errors_mu);
  auto& v = op_names();
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::string(v[i]) == op) return static_cast<int>(i);
  }
  v.push_back(op);
  return static_cast<int>(v.size() - 1);
}

void raise_device_errors() {
  volatile DeviceError* e = host_record();
  if (!e || e->flag == 0) return;
  std::string op;
  {
    std::lock_guard lk(errors_mu);
    const int code = e->op;
    op = code >= 0 && code < static_cast<int>(op_names().size()) ? op_names()[code] : "kernel";
  }
  const std::string msg = "[" + op + "] index " + std::to_string(e->value) +
                          " is out of range for axis " + std::to_string(e->axis) + " of size " +
                          std::to_string(e->bound);
  e->flag = 0;
  throw Error(msg);
}

}  // namespace cuda

namespace cuda {
namespace {

// LATHE_PROFILE=gpu: CUDA events around each primitive, resolved in batches (profile.h).
struct GpuSample {
  const char* name;
  cudaStream_t stream;
  cudaEvent_t start, end;
};

struct GpuProfile {
  std::mutex mu;
  std::vector<GpuSample> pending;
  std::vector<cudaEvent_t> spare;
  std::unordered_map<cudaStream_t, cudaEvent_t> last_end;  // per stream, owned here

  cudaEvent_t event() {
    if (!spare.empty()) {
      cudaEvent_t e = spare.back();
      spare.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    check(cudaEventCreate(&e), "profile event");
    return e;
  }

  // Resolves every pending sample (waits for its end event); callers hold mu.
  void flush() {
    for (auto& s : pending) {
      cudaEventSynchronize(s.end);
      float ms = 0;
      if (cudaEventElapsedTime(&ms, s.start, s.end) == cudaSuccess) {
        detail::profile_add((std::string("gpu ") + s.name).c_str(), ms * 1e-3);
      }
      auto it = last_end.find(s.stream);
      if (it != last_end.end()) {
        if (cudaEventElapsedTime(&ms, it->second, s.start) == cudaSuccess && ms >= 0) {
          detail::profile_add("gpu idle", ms * 1e-3);
        }
        spare.push_back(it->second);
      }
      last_end[s.stream] = s.end;
      spare.push_back(s.start);
    }
    cudaGetLastError();
    pending.clear();
  }
};

GpuProfile& gpu_profile() {
  static auto* p = [] {
    auto* g = new GpuProfile();  // lives to exit (flushed by the atexit report)
    detail::set_profile_flush([] {
      std::lock_guard lk(gpu_profile().mu);
      gpu_profile().flush();
    });
    return g;
  }();
  return *p;
}

}  // namespace
}  // namespace cuda

namespace detail {

void eval_on_cuda(Primitive& prim, const NodeList& inputs, Node& out) {
  for (Node* in : inputs) {
    if (in->device == Device::cuda && in->buffer) cuda::order_buffer(*in->buffer);
  }
  if (!profiling_gpu()) {
    prim.eval_cuda(inputs, out);
    cuda::check_launch(prim.name());
    return;
  }
  auto& prof = cuda::gpu_profile();
  cudaStream_t s = cuda::current_stream();
  cudaEvent_t start, end;
  {
    std::lock_guard lk(prof.mu);
    start = prof.event();
    end = prof.event();
  }
  cuda::check(cudaEventRecord(start, s), "profile event");
  prim.eval_cuda(inputs, out);
  cuda::check_launch(prim.name());
  cuda::check(cudaEventRecord(end, s), "profile event");
  std::lock_guard lk(prof.mu);
  prof.pending.push_back({prim.name(), s, start, end});
  if (prof.pending.size() >= 4096) prof.flush();
}

void cuda_synchronize(int stream) {
  cudaStream_t s = cuda::existing_stream(stream);
  if (s) cuda::check(cudaStreamSynchronize(s), "synchronize");
  cuda::raise_device_errors();
}

std::shared_ptr<void> cuda_record_ready() {
  cudaEvent_t ev = nullptr;
  cuda::check(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "ready event");
  cuda::check(cudaEventRecord(ev, cuda::current_stream()), "ready event");
  return std::shared_ptr<void>(ev, [](void* e) { cudaEventDestroy(static_cast<cudaEvent_t>(e)); });
}

void cuda_read_ready(const Node& n, void* dst) {
  // One stream for reads, shared by all threads (copies are short; the mutex orders them).
  static std::mutex mu;
  static cudaStream_t reads = [] {
    cudaStream_t s = nullptr;
    cuda::check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "read");
    return s;
  }();
  std::lock_guard lk(mu);
  cuda::check(cudaStreamWaitEvent(reads, static_cast<cudaEvent_t>(n.ready.get()), 0), "read");
  cuda::check(cudaMemcpyAsync(dst, n.raw(), n.nbytes(), cudaMemcpyDeviceToHost, reads), "read");
  cuda::check(cudaStreamSynchronize(reads), "read");
  cuda::raise_device_errors();
}

}  // namespace detail

}  // namespace lathe
