// Collective op constructors of the local communicator: validate, then record
// a node that meets the other ranks when evaluated.
#include "lathe/distributed/local_communicator.h"

#include "lathe/ops/util.h"
#include "lathe/primitives/collective.h"

namespace lathe::distributed {

LocalCommunicator::LocalCommunicator(std::shared_ptr<LocalGroup> group, int rank)
    : group_(std::move(group)), rank_(rank) {
  if (rank < 0 || rank >= group_->size()) {
    throw Error("[tp] rank " + std::to_string(rank) + " is outside the group of " +
                std::to_string(group_->size()));
  }
}

CommunicatorGroup LocalCommunicator::make_group(int size) {
  auto group = std::make_shared<LocalGroup>(size);
  CommunicatorGroup out;
  for (int r = 0; r < size; ++r) out.push_back(std::make_shared<LocalCommunicator>(group, r));
  return out;
}

Array LocalCommunicator::all_reduce_sum(const Array& x) {
  require_floating("all_reduce_sum", x);
  if (size() == 1) return x;
  return Array(x.shape(), x.dtype(),
               std::make_shared<AllReduceSum>(group_, rank_, next_collective_++), {x});
}

Array LocalCommunicator::all_gather(const Array& x, int axis) {
  x.check_valid("all_gather");
  if (x.ndim() == 0)
    op_error("all_gather", "needs an array of at least one dimension, got a scalar");
  const int a = normalize_axis("all_gather", axis, x.ndim());
  if (size() == 1) return x;
  Shape shape = x.shape();
  shape[static_cast<size_t>(a)] *= size();
  return Array(shape, x.dtype(), std::make_shared<AllGather>(group_, rank_, next_collective_++, a),
               {x});
}

void LocalCommunicator::barrier() { group_->barrier(rank_, next_barrier_++); }

void LocalCommunicator::abort(const std::string& reason) { group_->abort(reason); }

}  // namespace lathe::distributed
