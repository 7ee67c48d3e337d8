// The communicator factory (local now; the seam where NCCL plugs in), its
// environment, and adopt().
#include "lathe/distributed/communicator.h"

#include <cstdlib>

#include "lathe/distributed/local_communicator.h"
#include "lathe/primitives/collective.h"

namespace lathe::distributed {

CommunicatorGroup make_communicator(const std::string& kind, int size) {
  if (size < 1) throw Error("[tp] the number of ranks must be >= 1, got " + std::to_string(size));
  if (kind == "local") return LocalCommunicator::make_group(size);
  if (kind == "nccl") {
    // The NCCL path: set_nccl_environment(), then ncclGetUniqueId on rank 0
    // and ncclCommInitRank per rank thread, each after cudaSetDevice(rank),
    // with the all-reduce and all-gather primitives implemented in eval_cuda
    // on the rank's CUDA stream. Not in this build.
    set_nccl_environment();
    throw Error("[tp] NCCL communicator needs the CUDA build and several GPUs");
  }
  throw Error("[tp] unknown communicator kind '" + kind + "' (expected local or nccl)");
}

void set_nccl_environment() { ::setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/1); }

Array adopt(const Array& x) {
  x.check_valid("adopt");
  if (x.node().status.load() == detail::Status::lazy) {
    throw Error("[adopt] the array " + shape_str(x.shape()) +
                " has not been scheduled by its thread; async_eval it there first");
  }
  return Array(x.shape(), x.dtype(), std::make_shared<Adopt>(), {x});
}

}  // namespace lathe::distributed
