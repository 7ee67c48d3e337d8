// Compiled: a fused region of elementwise ops, made by compile(). One loop over
// the output evaluates a small register program per block of elements.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "lathe/core/primitive.h"

namespace lathe {

// One instruction of a fused program. Registers hold blocks of values in the
// compute type of their dtype (float for the 16-bit floats, rounded to the
// dtype after every instruction so that results match the unfused kernels).
struct FusedOp {
  enum class Kind : uint8_t { unary, binary, select, astype };
  Kind kind;
  int code;                             // UnaryOp / BinaryOp value; unused otherwise
  Dtype arg_dtype;                      // dtype of the operands (of a and b for select)
  Dtype dtype;                          // dtype of the result
  std::array<int, 3> args{-1, -1, -1};  // registers read
  int out = -1;                         // register written
  bool operator==(const FusedOp& o) const = default;
};

struct FusedProgram {
  // Input k is loaded (converted to its compute type) into register input_regs[k].
  std::vector<Dtype> input_dtypes;
  std::vector<int> input_regs;
  // Input k's value when it is a scalar constant of the trace (a C++ scalar,
  // also after a host-side astype): its bytes, zero-extended. Backends that
  // generate code may build it in; the input is passed all the same.
  std::vector<std::optional<uint64_t>> input_values;
  std::vector<FusedOp> ops;
  int result = -1;  // register stored to the output
  int num_regs = 0;
  bool operator==(const FusedProgram& o) const = default;
};

class Compiled : public Primitive {
 public:
  explicit Compiled(FusedProgram program) : program_(std::move(program)) {}
  const char* name() const override { return "compiled"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Compiled&>(o).program_ == program_;
  }
  // Not fusable again: compile inlines nothing, a nested compiled region stays one node.
  bool is_elementwise() const override { return false; }
  std::string describe() const override;
  const FusedProgram& program() const { return program_; }

 private:
  FusedProgram program_;
};

}  // namespace lathe
