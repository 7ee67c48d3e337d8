// The rendezvous behind LocalCommunicator: ranks that are threads of one
// process deposit their part of collective #seq and each takes every rank's
// part once all have arrived. Knows bytes and shapes, not graphs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe::distributed {

// One rank's part of a collective: its array's elements, row-major.
struct Contribution {
  std::string op;  // the collective's name, to catch ranks that are out of step
  Shape shape;
  Dtype dtype = float32;
  std::vector<char> bytes;
};

using Contributions = std::vector<std::shared_ptr<const Contribution>>;

class LocalGroup {
 public:
  explicit LocalGroup(int size);
  int size() const { return size_; }

  // Deposits `rank`'s part of collective `seq`, waits until every rank has
  // deposited its own, and returns all parts in rank order. Parts that
  // disagree on op, shape or dtype make every rank throw lathe::Error naming
  // them; so does abort(), for waiting and later callers alike.
  Contributions exchange(int rank, uint64_t seq, std::shared_ptr<const Contribution> part);
  // Host-side barrier of the group's threads (its own sequence of rendezvous).
  void barrier(int rank, uint64_t seq);
  void abort(const std::string& reason);
  // The reason given to abort(), if any.
  std::optional<std::string> aborted() const;

 private:
  struct Slot {
    Contributions parts;
    int arrived = 0;
    int taken = 0;
  };
  Contributions rendezvous(uint64_t key, int rank, std::shared_ptr<const Contribution> part,
                           const std::string& op);

  const int size_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Slot> slots_;
  std::optional<std::string> aborted_;
};

}  // namespace lathe::distributed
