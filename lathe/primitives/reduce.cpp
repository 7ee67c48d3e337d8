// Names and descriptions of the reduction primitives.
#include "lathe/primitives/reduce.h"

namespace lathe {

const char* reduce_name(ReduceOp op) {
  static const char* names[] = {"sum", "prod",      "max", "min", "mean",
                                "var", "logsumexp", "all", "any"};
  return names[static_cast<int>(op)];
}

std::string Reduce::describe() const {
  std::string s = std::string(name()) + "(axes=[";
  for (size_t i = 0; i < axes_.size(); ++i) s += (i ? ", " : "") + std::to_string(axes_[i]);
  s += "]";
  if (op_ == ReduceOp::var) s += ", ddof=" + std::to_string(ddof_);
  return s + ")";
}

std::string ArgReduce::describe() const {
  return std::string(name()) + "(axis=" + std::to_string(axis_) + ")";
}

const char* Scan::name() const {
  switch (op_) {
    case ScanOp::sum: return "cumsum";
    case ScanOp::prod: return "cumprod";
    case ScanOp::max: return "cummax";
    case ScanOp::min: return "cummin";
  }
  return "scan";
}

std::string Scan::describe() const {
  return std::string(name()) + "(axis=" + std::to_string(axis_) +
         ", reverse=" + (reverse_ ? "true" : "false") +
         ", inclusive=" + (inclusive_ ? "true" : "false") + ")";
}

std::string Softmax::describe() const {
  return "softmax(axis=" + std::to_string(axis_) + (precise_ ? ", precise)" : ")");
}

}  // namespace lathe
