// The memory model's verbs: eval, async_eval, keep, synchronize.
#pragma once

#include <initializer_list>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

namespace detail {
inline void collect(std::vector<Array>& v, const Array& a) { v.push_back(a); }
inline void collect(std::vector<Array>& v, const std::vector<Array>& as) {
  v.insert(v.end(), as.begin(), as.end());
}
void eval_list(const std::vector<Array>& outputs, bool wait);
void keep_list(const std::vector<Array>& arrays);
}  // namespace detail

// Frees every tracked array that is not kept, then computes the outputs and
// keeps them. eval() with no arguments only cleans up.
template <typename... Ts>
void eval(const Ts&... xs) {
  std::vector<Array> v;
  (detail::collect(v, xs), ...);
  detail::eval_list(v, true);
}
inline void eval(std::initializer_list<Array> xs) { detail::eval_list(xs, true); }

// As eval(), but returns once the work is scheduled.
template <typename... Ts>
void async_eval(const Ts&... xs) {
  std::vector<Array> v;
  (detail::collect(v, xs), ...);
  detail::eval_list(v, false);
}
inline void async_eval(std::initializer_list<Array> xs) { detail::eval_list(xs, false); }

// Marks arrays to survive evals (weights, caches).
template <typename... Ts>
void keep(const Ts&... xs) {
  std::vector<Array> v;
  (detail::collect(v, xs), ...);
  detail::keep_list(v);
}
inline void keep(std::initializer_list<Array> xs) { detail::keep_list(xs); }

// Waits until everything this thread scheduled is computed.
void synchronize();

}  // namespace lathe
