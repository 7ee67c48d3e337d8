// The tape compile() records: a graph in topological order whose leaves are
// the function's inputs and captured constants, and the passes that simplify
// and fuse it. Internal to the runtime.
#pragma once

#include <memory>
#include <vector>

#include "lathe/core/array.h"
#include "lathe/core/primitive.h"

namespace lathe::detail {

// Where a step reads a value from.
struct Ref {
  enum class Kind : uint8_t { input, constant, step };
  Kind kind;
  int index;
  bool operator==(const Ref& o) const = default;
};

struct Step {
  std::shared_ptr<Primitive> prim;
  std::vector<Ref> inputs;
  Shape shape;
  Dtype dtype;
  Device device = Device::cpu;
};

struct Tape {
  std::vector<Dtype> input_dtypes;
  std::vector<Array> constants;  // handles keep them from being donated or dropped
  std::vector<Step> steps;       // each reads only inputs, constants and earlier steps
  std::vector<Ref> outputs;
  Dtype dtype_of(Ref r) const;
};

// Merges equal weak scalar constants (C++ scalars) into one.
void dedup_scalar_constants(Tape& tape);
// Merges steps of the same primitive type and parameters, inputs, shape and dtype.
void eliminate_common_subexpressions(Tape& tape);
// Replaces maximal regions of elementwise steps, whose intermediates nothing
// else reads, by one Compiled step each. Returns the number of such steps.
size_t fuse_elementwise(Tape& tape);
// Whether every step can be replayed on inputs of other shapes (it is elementwise).
bool shape_generic(const Tape& tape);

}  // namespace lathe::detail
