// GPU side of compile's fused regions: the register program runs as one
// elementwise kernel per instruction on temporaries of the output's shape
// (correct, not yet fused into a single kernel; each step rounds to its dtype
// exactly as the CPU's fused loop does).
#include "lathe/primitives/compiled.h"

#include "lathe/primitives/elementwise.h"

namespace lathe {

using detail::Node;

namespace {
std::shared_ptr<Node> temporary(const Shape& shape, Dtype dtype) {
  auto n = std::make_shared<Node>(shape, dtype, nullptr, std::vector<std::shared_ptr<Node>>{});
  n->device = Device::cuda;
  return n;
}
}  // namespace

void Compiled::eval_cuda(const NodeList& in, Node& out) {
  const FusedProgram& p = program_;
  std::vector<std::shared_ptr<Node>> regs(p.num_regs);
  for (size_t k = 0; k < in.size(); ++k) {
    const Node& x = *in[k];
    auto view = temporary(out.shape, x.dtype);
    view->share(x, broadcast_strides(x, out.shape), x.offset, x.data_size);
    regs[p.input_regs[k]] = std::move(view);
  }
  for (const FusedOp& op : p.ops) {
    auto r = temporary(out.shape, op.dtype);
    NodeList args;
    for (int a : op.args) {
      if (a >= 0) args.push_back(regs[a].get());
    }
    switch (op.kind) {
      case FusedOp::Kind::unary: Unary(static_cast<UnaryOp>(op.code)).eval_cuda(args, *r); break;
      case FusedOp::Kind::binary: Binary(static_cast<BinaryOp>(op.code)).eval_cuda(args, *r); break;
      case FusedOp::Kind::select: Select().eval_cuda(args, *r); break;
      case FusedOp::Kind::astype: AsType().eval_cuda(args, *r); break;
    }
    regs[op.out] = std::move(r);
  }
  const Node& result = *regs[p.result];
  out.share(result, result.strides, result.offset, result.data_size);
}

}  // namespace lathe
