#include "lathe/ops/device.h"

#include "lathe/backend/device.h"
#include "lathe/core/tracker.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/device.h"

namespace lathe {

Array to_device(const Array& a, Device device) {
  a.check_valid("to_device");
  if (device == Device::cuda && !cuda_available()) {
    op_error("to_device",
             "cuda is not available (lathe was built without the CUDA backend or no GPU is "
             "present)");
  }
  if (a.device() == device) return a;
  auto n = std::make_shared<detail::Node>(a.shape(), a.dtype(), std::make_shared<ToDevice>(device),
                                          std::vector<std::shared_ptr<detail::Node>>{a.node_ptr()});
  n->device = device;
  if (detail::tracking_enabled()) detail::tracker().track(n);
  return Array(std::move(n));
}

}  // namespace lathe
