// Rendezvous of the threads of a local group (see local_group.h).
#include "lathe/distributed/local_group.h"

#include "lathe/core/error.h"

namespace lathe::distributed {

namespace {

// Collectives and barriers count separately; their keys interleave.
uint64_t collective_key(uint64_t seq) { return seq * 2; }
uint64_t barrier_key(uint64_t seq) { return seq * 2 + 1; }

std::string part_str(const Contribution& c) {
  return c.op + " of " + shape_str(c.shape) + " " + c.dtype.name();
}

}  // namespace

LocalGroup::LocalGroup(int size) : size_(size) {
  if (size < 1) throw Error("[tp] a group needs at least one rank, got " + std::to_string(size));
}

Contributions LocalGroup::exchange(int rank, uint64_t seq,
                                   std::shared_ptr<const Contribution> part) {
  const std::string op = part->op;
  Contributions parts = rendezvous(collective_key(seq), rank, std::move(part), op);
  for (int r = 1; r < size_; ++r) {
    const Contribution& a = *parts[0];
    const Contribution& b = *parts[static_cast<size_t>(r)];
    if (a.op != b.op || a.shape != b.shape || a.dtype != b.dtype) {
      throw Error("[" + op + "] the ranks are out of step at collective #" + std::to_string(seq) +
                  ": rank 0 gives " + part_str(a) + ", rank " + std::to_string(r) + " gives " +
                  part_str(b));
    }
  }
  return parts;
}

void LocalGroup::barrier(int rank, uint64_t seq) {
  auto empty = std::make_shared<Contribution>();
  empty->op = "barrier";
  rendezvous(barrier_key(seq), rank, std::move(empty), "barrier");
}

Contributions LocalGroup::rendezvous(uint64_t key, int rank,
                                     std::shared_ptr<const Contribution> part,
                                     const std::string& op) {
  if (rank < 0 || rank >= size_) {
    throw Error("[" + op + "] rank " + std::to_string(rank) + " is outside the group of " +
                std::to_string(size_));
  }
  std::unique_lock lk(mu_);
  auto fail_if_aborted = [&] {
    if (aborted_) throw Error("[" + op + "] aborted: " + *aborted_);
  };
  fail_if_aborted();
  Slot& slot = slots_[key];
  if (slot.parts.empty()) slot.parts.resize(static_cast<size_t>(size_));
  if (slot.parts[static_cast<size_t>(rank)]) {
    throw Error("[" + op + "] rank " + std::to_string(rank) + " entered collective #" +
                std::to_string(key / 2) + " twice");
  }
  slot.parts[static_cast<size_t>(rank)] = std::move(part);
  if (++slot.arrived == size_) cv_.notify_all();
  cv_.wait(lk, [&] { return aborted_ || slots_.at(key).arrived == size_; });
  fail_if_aborted();
  Slot& full = slots_.at(key);
  Contributions out = full.parts;
  if (++full.taken == size_) slots_.erase(key);
  return out;
}

void LocalGroup::abort(const std::string& reason) {
  std::lock_guard lk(mu_);
  if (!aborted_) aborted_ = reason;
  cv_.notify_all();
}

std::optional<std::string> LocalGroup::aborted() const {
  std::lock_guard lk(mu_);
  return aborted_;
}

}  // namespace lathe::distributed
