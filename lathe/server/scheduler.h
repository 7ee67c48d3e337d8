// Runs generations on worker threads of its own: at most `parallel` at once, the rest wait in
// arrival order. Each worker keeps its own array tracker and stream for the server's lifetime.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lathe::server {

class Scheduler {
 public:
  explicit Scheduler(int parallel);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a task; it runs on a worker when one is free. False after shutdown().
  bool submit(std::function<void()> task);
  // Runs what is queued, then joins the workers.
  void shutdown();

  int parallel() const { return static_cast<int>(workers_.size()); }
  size_t queued() const;
  int busy() const;

 private:
  void work();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  int busy_ = 0;
  bool stopping_ = false;
};

}  // namespace lathe::server
