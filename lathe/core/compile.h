// compile(): traces a function of arrays once per input signature, simplifies
// the graph (common subexpressions, duplicate scalar constants), fuses
// elementwise chains into single loops, and replays the result on each call.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

using ArrayFunction = std::function<std::vector<Array>(const std::vector<Array>&)>;

// What the last trace of a compiled function turned into (for tests and tuning).
struct TraceInfo {
  size_t traced_nodes = 0;      // op nodes the function recorded
  size_t simplified_nodes = 0;  // after constant dedup and common-subexpression elimination
  size_t nodes = 0;             // nodes built by each call (after fusion)
  size_t fused_kernels = 0;     // Compiled nodes among them
  size_t constants = 0;         // arrays the trace holds: captured arrays and scalar constants
  size_t scalar_values = 0;     // scalar constants whose values the fused kernels build in
};

// The callable compile() returns; converts to ArrayFunction. Copies share one
// trace cache. Calls may come from several threads.
class CompiledFunction {
 public:
  static constexpr size_t max_cached_traces = 64;

  CompiledFunction(ArrayFunction fn, bool shapeless);
  std::vector<Array> operator()(const std::vector<Array>& inputs) const;

  size_t num_traces() const;  // traces made so far (a new signature, or one evicted)
  size_t cache_size() const;  // traces held now
  TraceInfo last_trace() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Arrays created while fn runs are owned by the compiled function, not tracked.
// fn must be pure in its array inputs: it runs once per signature, on
// placeholders that cannot be evaluated. Arrays it captures are held by the
// trace and must stay valid (keep() them, as weights are).
// shapeless: reuse a trace for inputs of other shapes with the same ndim and
// dtypes, when every node of the trace is elementwise (others retrace per shape).
CompiledFunction compile(ArrayFunction fn, bool shapeless = false);

}  // namespace lathe
