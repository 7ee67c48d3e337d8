// The communicator of ranks that are threads of one process: collectives meet
// at a shared LocalGroup. It runs the sharded models on the CPU (simulated
// ranks) and is the reference the NCCL path is checked against.
#pragma once

#include <atomic>
#include <memory>

#include "lathe/distributed/communicator.h"
#include "lathe/distributed/local_group.h"

namespace lathe::distributed {

class LocalCommunicator : public Communicator {
 public:
  LocalCommunicator(std::shared_ptr<LocalGroup> group, int rank);
  // The group's `size` communicators, rank order.
  static CommunicatorGroup make_group(int size);

  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  const char* kind() const override { return "local"; }
  Array all_reduce_sum(const Array& x) override;
  Array all_gather(const Array& x, int axis) override;
  void barrier() override;
  void abort(const std::string& reason) override;

 private:
  std::shared_ptr<LocalGroup> group_;
  int rank_;
  std::atomic<uint64_t> next_collective_{0};
  std::atomic<uint64_t> next_barrier_{0};
};

}  // namespace lathe::distributed
