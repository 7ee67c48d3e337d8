// The per-thread tracker behind the memory model: it knows every array this
// thread created, and at each eval frees those that are not kept.
#pragma once

#include <memory>
#include <vector>

#include "lathe/core/array.h"

namespace lathe::detail {

class Tracker {
 public:
  void track(const std::shared_ptr<Node>& n);
  // Frees every tracked array that is not kept and not among `outputs`,
  // applies pending free() calls, and keeps the outputs.
  void cleanup(const std::vector<std::shared_ptr<Node>>& outputs);
  // Visits every live tracked array (kept or not, not freed).
  template <typename F>
  void for_each_live(F&& f) {
    prune();
    for (auto& w : nodes_) {
      if (auto n = w.lock(); n && !n->freed.load()) f(*n);
    }
  }

 private:
  void prune();
  std::vector<std::weak_ptr<Node>> nodes_;
  size_t pruned_at_ = 0;
};

Tracker& tracker();  // this thread's
// Nodes created while tracking is suspended (inside compile) are not tracked.
bool tracking_enabled();
class SuspendTracking {
 public:
  SuspendTracking();
  ~SuspendTracking();
  SuspendTracking(const SuspendTracking&) = delete;
  SuspendTracking& operator=(const SuspendTracking&) = delete;
};

// Marks n freed and releases it now if no pending computation reads it.
void free_node(Node& n);

}  // namespace lathe::detail
