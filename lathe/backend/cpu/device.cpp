// CPU side of to_device: a host destination. Copies from the GPU are the CUDA
// backend's (the scheduler runs a node that reads GPU memory there).
#include "lathe/primitives/device.h"

#include "lathe/backend/cpu/strided.h"

namespace lathe {

void ToDevice::eval_cpu(const NodeList& in, detail::Node& out) {
  const detail::Node& x = *in[0];
  if (x.device != Device::cpu) {
    throw Error(std::string("[to_device] cannot read ") + device_name(x.device) +
                " memory on the cpu");
  }
  out.allocate();
  cpu::gather_contiguous(x, out.raw());
}

}  // namespace lathe
