// A fixed pool of generation workers fed from one FIFO queue.
#include "lathe/server/scheduler.h"

#include <string>

#include "lathe/core/error.h"

namespace lathe::server {

Scheduler::Scheduler(int parallel) {
  if (parallel < 1)
    throw Error("[serve] parallel must be at least 1, got " + std::to_string(parallel));
  for (int i = 0; i < parallel; ++i) workers_.emplace_back([this] { work(); });
}

Scheduler::~Scheduler() { shutdown(); }

bool Scheduler::submit(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void Scheduler::shutdown() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
}

size_t Scheduler::queued() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

int Scheduler::busy() const {
  std::lock_guard lk(mu_);
  return busy_;
}

void Scheduler::work() {
  std::unique_lock lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lk.unlock();
    task();  // tasks report their own errors
    task = nullptr;
    lk.lock();
    --busy_;
  }
}

}  // namespace lathe::server
