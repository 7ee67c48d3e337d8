// Fork-join over a persistent pool: workers sleep on a condition variable between
// loops, so a call costs a wake-up (a few microseconds) instead of a thread start (tens),
// which matters at a decode step's hundreds of small products. One loop runs on the pool
// at a time; a concurrent or nested call runs its chunks on its own thread.
#include "lathe/backend/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace lathe::cpu {

namespace {

// Set on pool workers, and on a caller while it runs its share of a loop.
thread_local bool in_loop = false;

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  int workers() const { return static_cast<int>(threads_.size()); }

  // Runs f on chunks [c * step, min(n, (c + 1) * step)) for c < chunks, the caller
  // taking chunks too. Returns false (running nothing) when the pool is busy.
  bool run(int64_t n, int64_t chunks, int64_t step,
           const std::function<void(int64_t, int64_t)>& f) {
    std::unique_lock busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    errors_.assign(chunks, nullptr);
    {
      std::lock_guard lk(mu_);
      f_ = &f;
      n_ = n;
      step_ = step;
      chunks_ = chunks;
      next_.store(0);
      pending_ = chunks;
      workers_left_ = workers();
      ++generation_;
    }
    wake_.notify_all();
    in_loop = true;  // a nested parallel_for in f runs inline
    work();
    in_loop = false;
    {
      std::unique_lock lk(mu_);
      // Every worker checks in, so none can still be reading this loop's job when the
      // next one is posted.
      done_.wait(lk, [&] { return pending_ == 0 && workers_left_ == 0; });
      f_ = nullptr;
    }
    for (auto& e : errors_) {
      if (e) std::rethrow_exception(e);
    }
    return true;
  }

 private:
  // Takes chunks until none is left; the last one to finish wakes the caller.
  void work() {
    int64_t finished = 0;
    for (int64_t c; (c = next_.fetch_add(1)) < chunks_;) {
      const int64_t b = c * step_, e = std::min(n_, b + step_);
      try {
        if (b < e) (*f_)(b, e);
      } catch (...) {
        errors_[c] = std::current_exception();
      }
      ++finished;
    }
    if (finished == 0) return;
    std::lock_guard lk(mu_);
    pending_ -= finished;
    if (pending_ == 0 && workers_left_ == 0) done_.notify_all();
  }

  void loop() {
    in_loop = true;
    uint64_t seen = 0;
    std::unique_lock lk(mu_);
    while (true) {
      wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      lk.unlock();
      work();
      lk.lock();
      if (--workers_left_ == 0 && pending_ == 0) done_.notify_all();
    }
  }

  std::mutex busy_;  // held by the caller of run() for the whole loop
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int64_t, int64_t)>* f_ = nullptr;
  int64_t n_ = 0, step_ = 0, chunks_ = 0, pending_ = 0;
  int workers_left_ = 0;
  std::atomic<int64_t> next_{0};
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;
};

Pool& pool() {
  static Pool p(max_threads() - 1);
  return p;
}

}  // namespace

int max_threads() {
  static const int n = [] {
    unsigned hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hw, 1u, 8u));
  }();
  return n;
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  // A few chunks per thread, taken in turn: when a core is busy with another process, the
  // other threads take over the chunks its thread has not started.
  int64_t chunks =
      std::min<int64_t>(4 * max_threads(), std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
  if (chunks <= 1 || in_loop) {
    f(0, n);
    return;
  }
  const int64_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  if (pool().workers() > 0 && pool().run(n, chunks, step, f)) return;
  // The pool is running another thread's loop: this one runs on the caller alone.
  f(0, n);
}

}  // namespace lathe::cpu
