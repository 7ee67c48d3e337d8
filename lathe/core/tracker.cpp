#include "lathe/core/tracker.h"

#include <algorithm>
#include <unordered_set>

#include "lathe/core/scheduler.h"

namespace lathe::detail {

namespace {
thread_local int suspend_depth = 0;
}

Tracker& tracker() {
  thread_local Tracker t;
  return t;
}

bool tracking_enabled() { return suspend_depth == 0; }
SuspendTracking::SuspendTracking() { ++suspend_depth; }
SuspendTracking::~SuspendTracking() { --suspend_depth; }

void Tracker::track(const std::shared_ptr<Node>& n) {
  nodes_.push_back(n);
  // Amortized pruning keeps the list proportional to the live arrays even
  // when a program creates arrays without ever calling eval.
  if (nodes_.size() >= 2 * pruned_at_ + 1024) prune();
}

void Tracker::prune() {
  std::erase_if(nodes_, [](const std::weak_ptr<Node>& w) {
    auto n = w.lock();
    return !n || n->freed.load();
  });
  pruned_at_ = nodes_.size();
}

void free_node(Node& n) {
  n.freed.store(true);
  // Released only when no task holds it (claimed atomically against a concurrent eval);
  // a task that holds it releases it once computed.
  if (n.consumers.load() == 0 && claim_for_release(n)) n.release();
}

void Tracker::cleanup(const std::vector<std::shared_ptr<Node>>& outputs) {
  std::unordered_set<const Node*> outs;
  for (auto& o : outputs) {
    outs.insert(o.get());
    o->kept.store(true);
  }
  for (auto& w : nodes_) {
    auto n = w.lock();
    if (!n || n->freed.load()) continue;
    if (outs.count(n.get())) {
      if (n->free_requested.load()) n->free_requested.store(false);  // eval(x) re-keeps x
      continue;
    }
    if (n->free_requested.load() || !n->kept.load()) free_node(*n);
  }
  prune();
}

}  // namespace lathe::detail
