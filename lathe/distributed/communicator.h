// Collectives between the ranks of a tensor-parallel model: the interface the
// sharded layers call (sum and gather of lazy arrays), and the factory that
// makes a group of communicators of one kind.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe::distributed {

// One rank's end of a group. Collectives are lazy nodes: they run when the
// rank's graph is evaluated, and match up across ranks by the order each rank
// created them in, so every rank must build (and evaluate) the same
// collectives in the same order, as with NCCL.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "local" or "nccl".
  virtual const char* kind() const = 0;
  // The elementwise sum of every rank's x (same shape and floating dtype on
  // every rank), in x's dtype, accumulated in float32 (float64 for float64).
  virtual Array all_reduce_sum(const Array& x) = 0;
  // Every rank's x (same shape and dtype on every rank) joined along `axis`,
  // rank 0 first.
  virtual Array all_gather(const Array& x, int axis) = 0;
  // Blocks the calling thread until every rank has called barrier().
  virtual void barrier() = 0;
  // Makes every pending and future collective of the group throw
  // lathe::Error naming `reason`: a rank that failed must not leave the
  // others waiting for it forever.
  virtual void abort(const std::string& reason) = 0;
};

using CommunicatorGroup = std::vector<std::shared_ptr<Communicator>>;

// The communicators of a group of `size` ranks of this process, rank order.
//   "local": the ranks are threads sharing memory (the CPU build's simulated
//            ranks, and the reference the NCCL path is tested against).
//   "nccl":  one GPU per rank through NCCL; needs the CUDA build and several
//            GPUs (this build throws saying so).
// Unknown kinds and size < 1 throw lathe::Error("[tp] ...").
CommunicatorGroup make_communicator(const std::string& kind, int size);

// The environment the NCCL path sets before creating its communicators:
// NVLink multicast (NVLS) off, NCCL_NVLS_ENABLE=0, whatever the caller's
// environment says (NVLS needs fabric-manager support the lent machines lack,
// and the issue asks for it off in every environment lathe sets up).
void set_nccl_environment();

// A handle, in this thread's graph, to an array another thread computes or has
// computed (a view of its data once ready): this thread's tracker owns the
// handle, so the producing thread may free its own array whenever it likes.
// x must already be scheduled or computed by its thread; a lazy x would be
// evaluated here, on the wrong thread, so it is a lathe::Error.
Array adopt(const Array& x);

}  // namespace lathe::distributed
