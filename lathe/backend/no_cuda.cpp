// Built when the CUDA backend is off: every CUDA entry point says so.
#include "lathe/backend/device.h"
#include "lathe/core/primitive.h"

namespace lathe {

void Primitive::eval_cuda(const NodeList&, detail::Node&) {
  throw Error(std::string("[") + name() + "] lathe was built without the CUDA backend");
}

bool cuda_available() { return false; }

}  // namespace lathe
