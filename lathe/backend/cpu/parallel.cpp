// Fork-join over std::thread: threads are spawned per call, which costs tens of
// microseconds, so callers pass a grain that keeps each chunk far above that.
#include "lathe/backend/cpu/parallel.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace lathe::cpu {

int max_threads() {
  static const int n = [] {
    unsigned hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hw, 1u, 8u));
  }();
  return n;
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  int64_t chunks =
      std::min<int64_t>(max_threads(), std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
  if (chunks <= 1) {
    f(0, n);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(chunks);
  for (int64_t c = 1; c < chunks; ++c) {
    int64_t b = c * step, e = std::min(n, b + step);
    if (b >= e) break;
    threads.emplace_back([&, c, b, e] {
      try {
        f(b, e);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    });
  }
  try {
    f(0, std::min(n, step));
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace lathe::cpu
