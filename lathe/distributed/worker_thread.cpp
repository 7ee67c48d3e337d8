// The job loop of WorkerThread.
#include "lathe/distributed/worker_thread.h"

namespace lathe::distributed {

WorkerThread::WorkerThread() : thread_([this] { loop(); }) {}

WorkerThread::~WorkerThread() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::future<void> WorkerThread::post(std::function<void()> job) {
  std::packaged_task<void()> task(std::move(job));
  std::future<void> done = task.get_future();
  {
    std::lock_guard lk(mu_);
    jobs_.push_back(std::move(task));
  }
  cv_.notify_all();
  return done;
}

void WorkerThread::loop() {
  while (true) {
    std::packaged_task<void()> job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace lathe::distributed
