// Built when the CUDA backend is off: every CUDA entry point says so.
#include "lathe/backend/device.h"

namespace lathe {

namespace {
[[noreturn]] void no_cuda(const std::string& what) {
  throw Error("[" + what + "] lathe was built without the CUDA backend");
}
}  // namespace

void Primitive::eval_cuda(const NodeList&, detail::Node&) { no_cuda(name()); }

bool cuda_available() { return false; }

FusedKernelStats fused_kernel_stats() { return {}; }

Allocator& cuda_allocator() { no_cuda("memory"); }

namespace detail {
void eval_on_cuda(Primitive& prim, const NodeList& inputs, Node& out) {
  prim.eval_cuda(inputs, out);
}
void cuda_synchronize(int) {}
std::shared_ptr<RecordedWork> cuda_record(const std::function<void()>&) {
  no_cuda("device_graph");
}
std::shared_ptr<void> cuda_record_ready() { return nullptr; }
void cuda_read_ready(const Node&, void*) {
  throw Error("[read] this build of lathe has no CUDA backend");
}
}  // namespace detail

}  // namespace lathe
