// compile(): tracing on placeholders, the per-function trace cache (LRU by
// input signature), and replaying a trace on real inputs.
#include "lathe/core/compile.h"

#include <list>
#include <mutex>
#include <unordered_map>

#include "lathe/core/compile_tape.h"
#include "lathe/core/tracker.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/compiled.h"
#include "lathe/primitives/device.h"
#include "lathe/primitives/shape.h"

namespace lathe {

using detail::Node;
using detail::Ref;
using detail::Status;
using detail::Tape;

namespace {

// Stands for an input while the function is traced; it has no data.
class Placeholder : public Primitive {
 public:
  const char* name() const override { return "compile_input"; }
  void eval_cpu(const NodeList&, Node&) override {
    throw Error(
        "[compile] an array inside a compiled function cannot be evaluated while it is traced "
        "(its inputs are placeholders); return it instead");
  }
#ifdef LATHE_HAS_CUDA
  void eval_cuda(const NodeList& in, Node& out) override { eval_cpu(in, out); }
#endif
};

// The device copy of a C++ scalar (or of a host expression of C++ scalars only,
// such as its astype) that a GPU op reads: a constant of the trace.
bool is_scalar_copy(const Node& n) {
  return n.inputs.size() == 1 && n.inputs[0]->host_scalar &&
         dynamic_cast<const ToDevice*>(n.primitive.get()) != nullptr;
}

struct Trace {
  Tape tape;
  bool generic = false;  // replayable on other shapes of the same ndim
  TraceInfo info;
};

using Key = std::vector<int64_t>;

// Dtype, weak-scalar flag, device, ndim and (unless generic) the shape of each input.
Key signature(const std::vector<Array>& inputs, bool generic) {
  Key k{generic ? 1 : 0, static_cast<int64_t>(inputs.size())};
  for (auto& a : inputs) {
    const Node& n = a.node();
    k.push_back((static_cast<int64_t>(n.dtype.val) * 2 + (n.weak_scalar ? 1 : 0)) * 2 +
                (n.device == Device::cuda ? 1 : 0));
    k.push_back(static_cast<int64_t>(n.shape.size()));
    if (!generic) k.insert(k.end(), n.shape.begin(), n.shape.end());
  }
  return k;
}

// Turns the graph from the placeholders to the outputs into a tape. Nodes made
// before the trace began (first_id), and data made inside it, become constants.
Tape record(const std::vector<Array>& placeholders, const std::vector<Array>& outputs,
            uint64_t first_id) {
  Tape tape;
  std::unordered_map<const Node*, Ref> refs;
  for (size_t i = 0; i < placeholders.size(); ++i) {
    refs[&placeholders[i].node()] = {Ref::Kind::input, static_cast<int>(i)};
    tape.input_dtypes.push_back(placeholders[i].node().dtype);
  }
  auto is_constant = [&](const std::shared_ptr<Node>& n) {
    return n->id < first_id || !n->primitive || n->status.load() != Status::lazy ||
           is_scalar_copy(*n);
  };
  auto add_constant = [&](const std::shared_ptr<Node>& n) {
    Ref r{Ref::Kind::constant, static_cast<int>(tape.constants.size())};
    tape.constants.emplace_back(n);
    refs[n.get()] = r;
  };
  // Iterative post-order: graphs of long chains must not overflow the stack.
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack;
  for (const Array& out : outputs) {
    if (refs.count(&out.node())) continue;
    if (is_constant(out.node_ptr())) {
      add_constant(out.node_ptr());
      continue;
    }
    stack.emplace_back(out.node_ptr(), 0);
    while (!stack.empty()) {
      auto& [n, k] = stack.back();
      if (k < n->inputs.size()) {
        const auto& in = n->inputs[k++];
        if (refs.count(in.get())) continue;
        if (is_constant(in)) {
          add_constant(in);
        } else {
          stack.emplace_back(in, 0);
        }
        continue;
      }
      detail::Step s{n->primitive, {}, n->shape, n->dtype, n->device};
      for (auto& in : n->inputs) s.inputs.push_back(refs.at(in.get()));
      refs[n.get()] = {Ref::Kind::step, static_cast<int>(tape.steps.size())};
      tape.steps.push_back(std::move(s));
      stack.pop_back();
    }
  }
  for (const Array& out : outputs) tape.outputs.push_back(refs.at(&out.node()));
  return tape;
}

std::shared_ptr<Trace> trace(const ArrayFunction& fn, const std::vector<Array>& inputs,
                             bool shapeless) {
  auto trace = std::make_shared<Trace>();
  {
    detail::SuspendTracking untracked;
    // Node ids only grow: anything made from here on was made by the function.
    const uint64_t first_id =
        std::make_shared<Node>(Shape{}, float32, nullptr, std::vector<std::shared_ptr<Node>>{})->id;
    auto placeholder = std::make_shared<Placeholder>();
    std::vector<Array> ph;
    for (auto& a : inputs) {
      auto n = std::make_shared<Node>(a.node().shape, a.node().dtype, placeholder,
                                      std::vector<std::shared_ptr<Node>>{});
      n->weak_scalar = a.node().weak_scalar;
      n->device = a.node().device;
      ph.emplace_back(std::move(n));
    }
    std::vector<Array> outs = fn(ph);
    if (outs.empty()) throw Error("[compile] the compiled function returned no arrays");
    for (auto& o : outs) o.check_valid("compile");
    trace->tape = record(ph, outs, first_id);
  }
  Tape& tape = trace->tape;
  trace->info.traced_nodes = tape.steps.size();
  detail::dedup_scalar_constants(tape);
  detail::eliminate_common_subexpressions(tape);
  trace->info.simplified_nodes = tape.steps.size();
  trace->info.fused_kernels = detail::fuse_elementwise(tape);
  trace->info.nodes = tape.steps.size();
  trace->info.constants = tape.constants.size();
  for (const detail::Step& s : tape.steps) {
    if (auto* c = dynamic_cast<const Compiled*>(s.prim.get())) {
      for (const auto& v : c->program().input_values) trace->info.scalar_values += v.has_value();
    }
  }
  trace->generic = shapeless && detail::shape_generic(tape);
  return trace;
}

std::vector<Array> replay(const Trace& tr, const std::vector<Array>& inputs) {
  const Tape& tape = tr.tape;
  std::vector<std::shared_ptr<Node>> steps(tape.steps.size());
  auto node_of = [&](Ref r) -> const std::shared_ptr<Node>& {
    switch (r.kind) {
      case Ref::Kind::input: return inputs[r.index].node_ptr();
      case Ref::Kind::constant: return tape.constants[r.index].node_ptr();
      default: return steps[r.index];
    }
  };
  for (auto& c : tape.constants) {
    if (c.node().freed.load()) {
      throw Error("[compile] an array " + shape_str(c.node().shape) + " " + c.node().dtype.name() +
                  " that the compiled function captured was freed; keep() arrays that a "
                  "compiled function reads, such as weights");
    }
  }
  for (size_t i = 0; i < tape.steps.size(); ++i) {
    const detail::Step& s = tape.steps[i];
    std::vector<std::shared_ptr<Node>> ins;
    ins.reserve(s.inputs.size());
    for (Ref r : s.inputs) ins.push_back(node_of(r));
    Shape shape = s.shape;
    if (tr.generic) {
      shape = ins[0]->shape;
      for (size_t k = 1; k < ins.size(); ++k) {
        shape = broadcast_shapes(s.prim->name(), shape, ins[k]->shape);
      }
    }
    // Intermediates stay untracked: the graph owns them until they are computed.
    steps[i] = std::make_shared<Node>(std::move(shape), s.dtype, s.prim, std::move(ins));
    steps[i]->device = s.device;
  }
  std::vector<Array> outs;
  std::vector<const Node*> tracked;
  auto track = [&](const std::shared_ptr<Node>& n) {
    if (!detail::tracking_enabled()) return;
    for (auto* t : tracked) {
      if (t == n.get()) return;
    }
    tracked.push_back(n.get());
    detail::tracker().track(n);
  };
  for (Ref r : tape.outputs) {
    if (r.kind == Ref::Kind::input) {
      outs.push_back(inputs[r.index]);
    } else if (r.kind == Ref::Kind::step) {
      track(steps[r.index]);
      outs.emplace_back(steps[r.index]);
    } else {
      // A view, so that freeing the returned array never frees the trace's constant.
      const auto& c = tape.constants[r.index].node_ptr();
      auto view = std::make_shared<Node>(c->shape, c->dtype, std::make_shared<Reshape>(),
                                         std::vector<std::shared_ptr<Node>>{c});
      view->device = c->device;
      track(view);
      outs.emplace_back(std::move(view));
    }
  }
  return outs;
}

}  // namespace

struct CompiledFunction::State {
  ArrayFunction fn;
  bool shapeless;
  mutable std::mutex mu;
  std::list<std::pair<Key, std::shared_ptr<const Trace>>> cache;  // most recent first
  size_t arity = 0;
  bool has_arity = false;
  size_t traces = 0;
  TraceInfo last;

  std::shared_ptr<const Trace> find(const Key& key) {
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (it->first == key) {
        cache.splice(cache.begin(), cache, it);
        return cache.front().second;
      }
    }
    return nullptr;
  }
};

CompiledFunction::CompiledFunction(ArrayFunction fn, bool shapeless)
    : state_(std::make_shared<State>()) {
  if (!fn) throw Error("[compile] the function to compile is empty");
  state_->fn = std::move(fn);
  state_->shapeless = shapeless;
}

std::vector<Array> CompiledFunction::operator()(const std::vector<Array>& inputs) const {
  State& st = *state_;
  for (auto& a : inputs) a.check_valid("compile");
  const Key exact = signature(inputs, false);
  const Key generic = st.shapeless ? signature(inputs, true) : Key{};
  std::shared_ptr<const Trace> tr;
  {
    std::lock_guard lk(st.mu);
    if (st.has_arity && st.arity != inputs.size()) {
      throw Error("[compile] the compiled function takes " + std::to_string(st.arity) +
                  " inputs, got " + std::to_string(inputs.size()));
    }
    if (st.shapeless) tr = st.find(generic);
    if (!tr) tr = st.find(exact);
  }
  if (!tr) {
    // Traced without the lock: the function may itself call compiled functions.
    std::shared_ptr<Trace> fresh = trace(st.fn, inputs, st.shapeless);
    std::lock_guard lk(st.mu);
    st.arity = inputs.size();
    st.has_arity = true;
    ++st.traces;
    st.last = fresh->info;
    const Key& key = fresh->generic ? generic : exact;
    if (!st.find(key)) {
      st.cache.emplace_front(key, fresh);
      if (st.cache.size() > max_cached_traces) st.cache.pop_back();
    }
    tr = std::move(fresh);
  }
  return replay(*tr, inputs);
}

size_t CompiledFunction::num_traces() const {
  std::lock_guard lk(state_->mu);
  return state_->traces;
}

size_t CompiledFunction::cache_size() const {
  std::lock_guard lk(state_->mu);
  return state_->cache.size();
}

TraceInfo CompiledFunction::last_trace() const {
  std::lock_guard lk(state_->mu);
  return state_->last;
}

CompiledFunction compile(ArrayFunction fn, bool shapeless) {
  return CompiledFunction(std::move(fn), shapeless);
}

}  // namespace lathe
