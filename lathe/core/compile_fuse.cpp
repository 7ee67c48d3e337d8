// Elementwise fusion over a compile tape: groups steps into regions and turns
// each region of two or more steps into one Compiled step with a register
// program, recording the values of the scalar constants it reads.
#include <algorithm>
#include <cstring>
#include <optional>

#include "lathe/core/compile_tape.h"
#include "lathe/primitives/compiled.h"
#include "lathe/primitives/device.h"
#include "lathe/primitives/elementwise.h"

namespace lathe::detail {

namespace {

// The instruction a step becomes inside a fused program, if it can be fused.
bool fused_op(const Tape& tape, const Step& s, FusedOp& op) {
  if (!s.prim->is_elementwise()) return false;
  const Primitive* p = s.prim.get();
  auto in_dtype = [&](size_t k) { return tape.dtype_of(s.inputs[k]); };
  op.dtype = s.dtype;
  if (auto* u = dynamic_cast<const Unary*>(p); u && s.inputs.size() == 1) {
    op.kind = FusedOp::Kind::unary;
    op.code = static_cast<int>(u->op());
    op.arg_dtype = in_dtype(0);
    bool to_bool = u->op() == UnaryOp::logical_not;
    return to_bool ? s.dtype == bool_ : s.dtype == op.arg_dtype;
  }
  if (auto* b = dynamic_cast<const Binary*>(p); b && s.inputs.size() == 2) {
    op.kind = FusedOp::Kind::binary;
    op.code = static_cast<int>(b->op());
    op.arg_dtype = in_dtype(0);
    bool to_bool = b->op() >= BinaryOp::equal && b->op() <= BinaryOp::logical_or;
    return in_dtype(1) == op.arg_dtype && (to_bool ? s.dtype == bool_ : s.dtype == op.arg_dtype);
  }
  if (dynamic_cast<const Select*>(p) && s.inputs.size() == 3) {
    op.kind = FusedOp::Kind::select;
    op.code = 0;
    op.arg_dtype = in_dtype(1);
    return in_dtype(0) == bool_ && in_dtype(2) == op.arg_dtype && s.dtype == op.arg_dtype;
  }
  if (dynamic_cast<const AsType*>(p) && s.inputs.size() == 1) {
    op.kind = FusedOp::Kind::astype;
    op.code = 0;
    op.arg_dtype = in_dtype(0);
    return op.arg_dtype != s.dtype;
  }
  return false;
}

// The value of a trace constant that is a C++ scalar, or a host expression of
// C++ scalars only (such as its astype), or the device copy of either: the
// bytes of its dtype, zero-extended. Host expressions are computed here by
// their CPU kernels on copies, so the value is the one the graph would compute.
std::optional<uint64_t> scalar_value(const Node& n, int depth = 0) {
  if (depth > 8 || n.shape.size() != 0 || n.dtype.size() > sizeof(uint64_t)) return std::nullopt;
  const Status status = n.status.load();
  if (status == Status::available) {
    if (n.device != Device::cpu || !(n.weak_scalar || n.host_scalar) || !n.buffer) {
      return std::nullopt;
    }
    uint64_t bits = 0;
    std::memcpy(&bits, n.raw(), n.dtype.size());
    return bits;
  }
  if (status != Status::lazy || !n.primitive) return std::nullopt;
  if (dynamic_cast<const ToDevice*>(n.primitive.get()) && n.inputs.size() == 1) {
    return n.inputs[0]->host_scalar ? scalar_value(*n.inputs[0], depth + 1) : std::nullopt;
  }
  if (!n.host_scalar || n.device != Device::cpu || !n.primitive->is_elementwise()) {
    return std::nullopt;
  }
  auto scalar = [](Dtype d) {
    auto t = std::make_shared<Node>(Shape{}, d, nullptr, std::vector<std::shared_ptr<Node>>{});
    t->device = Device::cpu;
    t->allocate();
    return t;
  };
  std::vector<std::shared_ptr<Node>> args;
  NodeList arg_ptrs;
  for (const auto& in : n.inputs) {
    std::optional<uint64_t> v = scalar_value(*in, depth + 1);
    if (!v) return std::nullopt;
    args.push_back(scalar(in->dtype));
    std::memcpy(args.back()->raw(), &*v, in->dtype.size());
    args.back()->status.store(Status::available);
    arg_ptrs.push_back(args.back().get());
  }
  auto out =
      std::make_shared<Node>(Shape{}, n.dtype, nullptr, std::vector<std::shared_ptr<Node>>{});
  out->device = Device::cpu;
  try {
    n.primitive->eval_cpu(arg_ptrs, *out);
  } catch (const Error&) {
    return std::nullopt;  // the graph reports it when it runs
  }
  if (!out->buffer) return std::nullopt;
  uint64_t bits = 0;
  std::memcpy(&bits, out->raw(), n.dtype.size());
  return bits;
}

// Builds the program of one region; members are step indices in increasing order.
Step build_region(const Tape& tape, const std::vector<int>& members,
                  const std::vector<FusedOp>& ops) {
  const int root = members.back();
  std::vector<Ref> leaves;
  auto member_pos = [&](const Ref& r) -> int {
    if (r.kind != Ref::Kind::step) return -1;
    auto it = std::lower_bound(members.begin(), members.end(), r.index);
    return it != members.end() && *it == r.index ? static_cast<int>(it - members.begin()) : -1;
  };
  // Leaves, and the last member position that reads each member.
  std::vector<int> last_use(members.size(), -1);
  for (size_t t = 0; t < members.size(); ++t) {
    for (const Ref& r : tape.steps[members[t]].inputs) {
      int m = member_pos(r);
      if (m >= 0) {
        last_use[m] = static_cast<int>(t);
      } else if (std::find(leaves.begin(), leaves.end(), r) == leaves.end()) {
        leaves.push_back(r);
      }
    }
  }
  FusedProgram prog;
  // Leaves own their registers for the whole loop: a broadcast scalar is loaded only once.
  for (size_t k = 0; k < leaves.size(); ++k) {
    prog.input_dtypes.push_back(tape.dtype_of(leaves[k]));
    prog.input_regs.push_back(static_cast<int>(k));
    const bool constant = leaves[k].kind == Ref::Kind::constant;
    prog.input_values.push_back(constant ? scalar_value(tape.constants[leaves[k].index].node())
                                         : std::nullopt);
  }
  prog.num_regs = static_cast<int>(leaves.size());
  std::vector<int> free_regs;
  std::vector<int> reg(members.size(), -1);
  for (size_t t = 0; t < members.size(); ++t) {
    FusedOp op = ops[t];
    const auto& ins = tape.steps[members[t]].inputs;
    for (size_t k = 0; k < ins.size(); ++k) {
      int m = member_pos(ins[k]);
      op.args[k] =
          m >= 0
              ? reg[m]
              : static_cast<int>(std::find(leaves.begin(), leaves.end(), ins[k]) - leaves.begin());
    }
    // A fresh register for the result, so no instruction reads and writes the same block.
    if (free_regs.empty()) {
      op.out = prog.num_regs++;
    } else {
      op.out = free_regs.back();
      free_regs.pop_back();
    }
    reg[t] = op.out;
    for (size_t k = 0; k < ins.size(); ++k) {
      int m = member_pos(ins[k]);
      bool first = std::find(ins.begin(), ins.begin() + k, ins[k]) == ins.begin() + k;
      if (m >= 0 && first && last_use[m] == static_cast<int>(t)) free_regs.push_back(reg[m]);
    }
    prog.ops.push_back(op);
  }
  prog.result = reg.back();
  const Step& r = tape.steps[root];
  return Step{std::make_shared<Compiled>(std::move(prog)), std::move(leaves), r.shape, r.dtype,
              r.device};
}

}  // namespace

size_t fuse_elementwise(Tape& tape) {
  const size_t n = tape.steps.size();
  std::vector<std::vector<int>> users(n);
  std::vector<bool> is_output(n, false);
  for (size_t i = 0; i < n; ++i) {
    for (const Ref& r : tape.steps[i].inputs) {
      if (r.kind == Ref::Kind::step) users[r.index].push_back(static_cast<int>(i));
    }
  }
  for (const Ref& r : tape.outputs) {
    if (r.kind == Ref::Kind::step) is_output[r.index] = true;
  }
  std::vector<FusedOp> ops(n);
  std::vector<int> group(n, -1);
  std::vector<int> roots;
  // From the outputs back: a step joins its readers' region when every reader
  // is in that one region. Only the root of a region is read from outside it,
  // so replacing a region by one step keeps the graph acyclic.
  for (size_t i = n; i-- > 0;) {
    if (!fused_op(tape, tape.steps[i], ops[i])) continue;
    int g = -1;
    if (!is_output[i] && !users[i].empty()) {
      g = group[users[i][0]];
      for (int u : users[i]) {
        if (group[u] != g) g = -1;
      }
    }
    if (g < 0) {
      g = static_cast<int>(roots.size());
      roots.push_back(static_cast<int>(i));
    }
    group[i] = g;
  }
  std::vector<std::vector<int>> members(roots.size());
  for (size_t i = 0; i < n; ++i) {
    if (group[i] >= 0) members[group[i]].push_back(static_cast<int>(i));
  }
  std::vector<Step> out;
  std::vector<Ref> map(n, Ref{Ref::Kind::step, -1});
  size_t fused = 0;
  for (size_t i = 0; i < n; ++i) {
    int g = group[i];
    bool region = g >= 0 && members[g].size() > 1;
    if (region && roots[g] != static_cast<int>(i)) continue;  // emitted with its root
    Step s;
    if (region) {
      std::vector<FusedOp> region_ops;
      for (int m : members[g]) region_ops.push_back(ops[m]);
      s = build_region(tape, members[g], region_ops);
      ++fused;
    } else {
      s = tape.steps[i];  // copied: later regions still read dtypes of earlier steps
    }
    for (auto& r : s.inputs) {
      if (r.kind == Ref::Kind::step) r = map[r.index];
    }
    map[i] = {Ref::Kind::step, static_cast<int>(out.size())};
    out.push_back(std::move(s));
  }
  tape.steps = std::move(out);
  for (auto& r : tape.outputs) {
    if (r.kind == Ref::Kind::step) r = map[r.index];
  }
  return fused;
}

}  // namespace lathe::detail
