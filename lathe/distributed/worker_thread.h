// A thread that runs jobs in the order they are posted. A tensor-parallel
// rank builds its graphs on one, so that it has its own tracker and stream
// (../shared/DESIGN.md: threading), whatever thread drives the model.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace lathe::distributed {

class WorkerThread {
 public:
  WorkerThread();
  // Runs the jobs already posted, then joins.
  ~WorkerThread();
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Queues `job`; the future reports its end (and rethrows its exception).
  std::future<void> post(std::function<void()> job);

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lathe::distributed
