// Names and descriptions of the sorting primitives.
#include "lathe/primitives/sort.h"

namespace lathe {

const char* sort_name(SortOp op) {
  static const char* names[] = {"sort",         "argsort", "partition",
                                "argpartition", "topk",    "topk_indices"};
  return names[static_cast<int>(op)];
}

std::string Sort::describe() const {
  std::string s = std::string(name()) + "(axis=" + std::to_string(axis_);
  if (op_ == SortOp::partition || op_ == SortOp::argpartition) {
    s += ", kth=" + std::to_string(kth_);
  } else if (op_ == SortOp::topk || op_ == SortOp::topk_indices) {
    s += ", k=" + std::to_string(kth_);
  }
  return s + ")";
}

}  // namespace lathe
