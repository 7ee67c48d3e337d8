// Evaluation: graphs are ordered on the calling thread and run on that
// thread's stream, a worker that executes tasks in order.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// One evaluation: the nodes to compute, in dependency order.
class Task {
 public:
  void run();
  void wait();  // rethrows the evaluation's error
  bool done();
  bool failed();  // done with an error

  std::vector<std::shared_ptr<detail::Node>> order;
  int stream = 0;            // the submitting thread's stream (GPU work is ordered on it)
  std::vector<int> readers;  // per node: readers left within this task
  std::vector<bool> is_output;
  // Node i's inputs as indices into `order` (-1: computed before this task), in
  // input_slots[slots_begin[i] .. slots_begin[i + 1]).
  std::vector<int> input_slots;
  std::vector<int> slots_begin;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

// Schedules the unevaluated part of the outputs' graphs; waits if asked.
void eval_nodes(const std::vector<std::shared_ptr<detail::Node>>& outputs, bool wait);
// Waits for all work this thread has scheduled.
void synchronize_stream();
// Waits until this thread's tasks have run (their GPU work queued, not finished).
void wait_for_tasks();

namespace detail {
// Scheduling and freeing claim a node through its task pointer, atomically: an eval takes a
// lazy node by swapping its empty (or failed) task for its own; freeing takes a node that no
// task holds by swapping in a "released" marker. So a node is never released while another
// thread's eval is collecting it, and never computed by two tasks.
bool claim_for_release(Node& n);
// The stream whose task runs on this thread now, else this thread's own stream.
int current_stream();
}  // namespace detail

}  // namespace lathe
