#include "lathe/primitives/compiled.h"

#include "lathe/primitives/elementwise.h"

namespace lathe {

std::string Compiled::describe() const {
  std::string s = "compiled(";
  for (size_t i = 0; i < program_.ops.size(); ++i) {
    const FusedOp& op = program_.ops[i];
    if (i) s += ", ";
    switch (op.kind) {
      case FusedOp::Kind::unary: s += unary_name(static_cast<UnaryOp>(op.code)); break;
      case FusedOp::Kind::binary: s += binary_name(static_cast<BinaryOp>(op.code)); break;
      case FusedOp::Kind::select: s += "where"; break;
      case FusedOp::Kind::astype: s += std::string("astype:") + op.dtype.name(); break;
    }
  }
  return s + ")";
}

}  // namespace lathe
