// eval / async_eval / keep, the per-thread stream worker, and the memory API.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "lathe/backend/device.h"
#include "lathe/core/memory.h"
#include "lathe/core/primitive.h"
#include "lathe/core/profile.h"
#include "lathe/core/scheduler.h"
#include "lathe/core/tracker.h"
#include "lathe/core/transforms.h"

namespace lathe {

using detail::Node;
using detail::Status;

namespace {
thread_local int running_stream = -1;  // set while a task runs on this thread
int own_stream();
}  // namespace

int detail::current_stream() { return running_stream >= 0 ? running_stream : own_stream(); }

namespace {
std::atomic<int64_t> task_nanoseconds{0};

struct TaskClock {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  ~TaskClock() {
    task_nanoseconds.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - t0)
                                   .count());
  }
};
}  // namespace

double task_seconds() { return static_cast<double>(task_nanoseconds.load()) * 1e-9; }

namespace {
// The task pointer of a node that was released (no eval may take it any more).
const std::shared_ptr<Task>& released_marker() {
  static const auto* marker = [] {
    auto* m = new std::shared_ptr<Task>(std::make_shared<Task>());
    (*m)->run();  // an empty task, done: waiting on a released node returns (then throws)
    return m;
  }();
  return *marker;
}

// Takes a lazy node for `task`: its task pointer was empty, or a failed evaluation's (a later
// eval retries what failed). False when another live task holds it or it was released.
bool claim_for_task(Node& n, const std::shared_ptr<Task>& task) {
  auto current = std::atomic_load(&n.task);
  for (;;) {
    if (current == released_marker()) return false;
    if (current && !current->failed()) return current == task;
    if (std::atomic_compare_exchange_weak(&n.task, &current, task)) return true;
  }
}
}  // namespace

bool detail::claim_for_release(Node& n) {
  std::shared_ptr<Task> none;
  if (std::atomic_compare_exchange_strong(&n.task, &none, released_marker())) return true;
  // Held by a task: released by it once computed, unless the task failed (then nothing will).
  return none == released_marker() || (none && none->failed() &&
                                       std::atomic_compare_exchange_strong(&n.task, &none,
                                                                           released_marker()));
}

void Task::run() {
  const TaskClock clock;
  size_t i = 0;
  const int outer_stream = running_stream;
  running_stream = stream;
  try {
    NodeList ins;
    // Inputs computed by this task are dropped once their last reader here has run.
    auto drop_inputs = [&](size_t at) {
      for (int k = slots_begin[at]; k < slots_begin[at + 1]; ++k) {
        const int j = input_slots[k];
        if (j >= 0 && --readers[j] == 0 && !is_output[j]) order[j].reset();
      }
    };
    for (; i < order.size(); ++i) {
      Node& n = *order[i];
      const auto owner = std::atomic_load(&n.task);
      if (owner.get() != this && owner != released_marker()) {
        // Another thread's eval took this node between our graph walk and our claim: that
        // task computes it; this one waits for it like any outside input.
        n.wait();
        drop_inputs(i);
        continue;
      }
      if (owner.get() != this || !n.primitive) {
        throw Error(
            "[eval] an input array was freed before it was computed; use keep() to hold it");
      }
      ins.clear();
      for (auto& in : n.inputs) {
        if (in->status.load() != Status::available) in->wait();  // another thread's task
        ins.push_back(in.get());
      }
      bool reads_gpu = false;
      for (Node* in : ins) reads_gpu = reads_gpu || in->device == Device::cuda;
      const bool timed = profiling();
      const auto t0 = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
      if (n.device == Device::cuda || reads_gpu) {
        detail::eval_on_cuda(*n.primitive, ins, n);
      } else {
        n.primitive->eval_cpu(ins, n);
      }
      if (timed) {
        detail::profile_add(n.primitive->name(), std::chrono::duration<double>(
                                                     std::chrono::steady_clock::now() - t0)
                                                     .count());
      }
      if (is_output[i] && n.device == Device::cuda) n.ready = detail::cuda_record_ready();
      n.status.store(Status::available);
      std::atomic_store(&n.task, std::shared_ptr<Task>());
      n.detach();
      if (n.freed.load() && n.consumers.load() == 0 && detail::claim_for_release(n)) n.release();
      drop_inputs(i);
    }
  } catch (...) {
    running_stream = outer_stream;
    // The nodes left go back to lazy (a later eval may retry them) but keep
    // this task, so that another thread waiting on one gets the real error;
    // the task lets go of them, so the two do not hold each other.
    auto left = std::move(order);
    order.clear();
    {
      std::lock_guard lk(mu_);
      error_ = std::current_exception();
      done_ = true;
    }
    for (size_t j = i; j < left.size(); ++j) {
      // Only this task's nodes (one another eval took is that task's to finish).
      if (left[j] && std::atomic_load(&left[j]->task).get() == this) {
        left[j]->status.store(Status::lazy);
      }
    }
    cv_.notify_all();
    return;
  }
  running_stream = outer_stream;
  order.clear();
  std::lock_guard lk(mu_);
  done_ = true;
  cv_.notify_all();
}

void Task::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return done_; });
  if (error_) std::rethrow_exception(error_);
}

bool Task::done() {
  std::lock_guard lk(mu_);
  return done_;
}

bool Task::failed() {
  std::lock_guard lk(mu_);
  return done_ && error_ != nullptr;
}

namespace {

std::atomic<int> next_stream_id{0};

// A thread's default stream: tasks run in order on a worker thread. Its id
// names the GPU stream its tasks' kernels are ordered on.
class Stream {
 public:
  const int id = next_stream_id.fetch_add(1);

  ~Stream() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (worker_.joinable()) worker_.join();
  }

  // Runs the task on the caller's thread when nothing is queued, else queues it.
  void submit(const std::shared_ptr<Task>& t, bool wait) {
    {
      std::unique_lock lk(mu_);
      if (wait && queue_.empty() && !busy_) {
        busy_ = true;
        lk.unlock();
        t->run();
        lk.lock();
        busy_ = false;
        idle_cv_.notify_all();
        return;
      }
      if (!worker_.joinable()) worker_ = std::thread([this] { loop(); });
      queue_.push_back(t);
      cv_.notify_all();
    }
  }

  void synchronize() {
    std::unique_lock lk(mu_);
    idle_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
  }

 private:
  void loop() {
    std::unique_lock lk(mu_);
    while (true) {
      cv_.wait(lk, [&] { return stop_ || (!queue_.empty() && !busy_); });
      if (queue_.empty() && stop_) return;
      if (queue_.empty() || busy_) continue;
      auto t = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lk.unlock();
      t->run();
      t.reset();
      lk.lock();
      busy_ = false;
      idle_cv_.notify_all();
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::shared_ptr<Task>> queue_;
  bool busy_ = false, stop_ = false;
  std::thread worker_;
};

Stream& stream() {
  thread_local Stream s;
  return s;
}

int own_stream() { return stream().id; }

bool any_on_gpu(const std::vector<std::shared_ptr<Node>>& nodes) {
  for (auto& n : nodes) {
    if (n->device == Device::cuda) return true;
  }
  return false;
}

}  // namespace

void eval_nodes(const std::vector<std::shared_ptr<Node>>& outputs, bool wait) {
  auto task = std::make_shared<Task>();
  std::unordered_map<const Node*, int> index;
  // Iterative post-order DFS over the lazy part of the graph.
  std::vector<std::pair<Node*, size_t>> stack;
  std::vector<std::shared_ptr<Node>> waits;
  std::unordered_set<const Node*> visiting;
  auto visit = [&](const std::shared_ptr<Node>& root) {
    if (root->status.load() != Status::lazy || index.count(root.get()) ||
        visiting.count(root.get()))
      return;
    stack.emplace_back(root.get(), 0);
    visiting.insert(root.get());
    std::vector<std::shared_ptr<Node>> owners{root};
    while (!stack.empty()) {
      auto& [n, k] = stack.back();
      if (k < n->inputs.size()) {
        const auto& in = n->inputs[k++];
        if (in->status.load() == Status::lazy && !index.count(in.get()) &&
            !visiting.count(in.get())) {
          visiting.insert(in.get());
          stack.emplace_back(in.get(), 0);
        }
        continue;
      }
      Node* done = n;
      stack.pop_back();
      visiting.erase(done);
      index[done] = static_cast<int>(task->order.size());
      // Recover the owning pointer: a node is owned by its consumer's input list or is a root.
      std::shared_ptr<Node> sp;
      if (done == root.get()) {
        sp = root;
      } else {
        auto& parent = *stack.back().first;
        for (auto& in : parent.inputs) {
          if (in.get() == done) {
            sp = in;
            break;
          }
        }
      }
      task->order.push_back(std::move(sp));
    }
  };
  for (auto& o : outputs) visit(o);
  if (task->order.empty()) {
    if (wait) {
      for (auto& o : outputs) o->wait();
      if (any_on_gpu(outputs)) detail::cuda_synchronize(stream().id);
    }
    return;
  }
  task->readers.assign(task->order.size(), 0);
  task->is_output.assign(task->order.size(), false);
  task->slots_begin.reserve(task->order.size() + 1);
  for (auto& n : task->order) {
    task->slots_begin.push_back(static_cast<int>(task->input_slots.size()));
    for (auto& in : n->inputs) {
      auto it = index.find(in.get());
      task->input_slots.push_back(it == index.end() ? -1 : it->second);
      if (it != index.end()) task->readers[it->second]++;
    }
  }
  task->slots_begin.push_back(static_cast<int>(task->input_slots.size()));
  for (auto& o : outputs) {
    auto it = index.find(o.get());
    if (it != index.end()) task->is_output[it->second] = true;
  }
  for (auto& n : task->order) {
    // A node another thread's eval took meanwhile stays in the order (readers count it) but is
    // left to that task (Task::run waits for it).
    if (claim_for_task(*n, task)) n->status.store(Status::scheduled);
  }
  task->stream = stream().id;
  stream().submit(task, wait);
  if (wait) {
    task->wait();
    for (auto& o : outputs) o->wait();
    // eval() returns once GPU outputs are computed, not only scheduled.
    if (any_on_gpu(outputs)) detail::cuda_synchronize(task->stream);
  }
}

void synchronize_stream() {
  stream().synchronize();
  if (cuda_available()) detail::cuda_synchronize(stream().id);
}

void wait_for_tasks() { stream().synchronize(); }

namespace detail {

void eval_list(const std::vector<Array>& outputs, bool wait) {
  std::vector<std::shared_ptr<Node>> nodes;
  nodes.reserve(outputs.size());
  for (auto& a : outputs) {
    a.check_valid(wait ? "eval" : "async_eval");
    nodes.push_back(a.node_ptr());
  }
  tracker().cleanup(nodes);
  eval_nodes(nodes, wait);
}

void keep_list(const std::vector<Array>& arrays) {
  for (auto& a : arrays) {
    a.check_valid("keep");
    a.node().kept.store(true);
    a.node().free_requested.store(false);
  }
}

}  // namespace detail

void synchronize() { synchronize_stream(); }

namespace {
Allocator& allocator_of(Device d) { return d == Device::cuda ? cuda_allocator() : cpu_allocator(); }
}  // namespace

size_t active_memory(Device d) { return allocator_of(d).active_memory(); }
size_t peak_memory(Device d) { return allocator_of(d).peak_memory(); }
void reset_peak_memory(Device d) { allocator_of(d).reset_peak_memory(); }
size_t cache_memory(Device d) { return allocator_of(d).cache_memory(); }
void clear_cache(Device d) { allocator_of(d).clear_cache(); }
size_t set_memory_limit(size_t bytes, Device d) { return allocator_of(d).set_memory_limit(bytes); }
size_t set_cache_limit(size_t bytes, Device d) { return allocator_of(d).set_cache_limit(bytes); }

LiveArrays live_arrays(size_t top) {
  LiveArrays r;
  std::unordered_set<const Buffer*> seen;
  std::vector<LiveArray> all;
  detail::tracker().for_each_live([&](Node& n) {
    bool kept = n.kept.load();
    (kept ? r.kept : r.unkept)++;
    bool computed = n.status.load() == Status::available && n.buffer;
    if (computed && seen.insert(n.buffer.get()).second) r.bytes += n.buffer->size();
    all.push_back({n.id, n.shape, n.dtype, n.nbytes(), kept, computed});
  });
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.nbytes > b.nbytes; });
  if (all.size() > top) all.resize(top);
  r.largest = std::move(all);
  return r;
}

std::string LiveArrays::str() const {
  std::ostringstream o;
  o << "live arrays: " << kept << " kept, " << unkept << " unkept, " << bytes << " bytes\n";
  for (auto& a : largest) {
    o << "  #" << a.id << " " << shape_str(a.shape) << " " << a.dtype.name() << " " << a.nbytes
      << " bytes" << (a.kept ? " kept" : "") << (a.computed ? "" : " (lazy)") << "\n";
  }
  return o.str();
}

}  // namespace lathe
