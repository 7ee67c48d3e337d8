// Elementwise primitives: unary and binary math, select, dtype conversion.
#pragma once

#include "lathe/core/primitive.h"

namespace lathe {

enum class UnaryOp {
  negative,
  abs,
  square,
  sqrt,
  rsqrt,
  exp,
  log,
  log1p,
  sin,
  cos,
  tanh,
  erf,
  sigmoid,
  silu,
  relu,
  gelu,
  gelu_tanh,
  logical_not,
  floor,
  ceil,
  round,
  sign,
  reciprocal,
  expm1,
  bitwise_not
};
const char* unary_name(UnaryOp op);

enum class BinaryOp {
  add,
  subtract,
  multiply,
  divide,
  power,
  maximum,
  minimum,
  floor_divide,
  remainder,
  equal,
  not_equal,
  less,
  less_equal,
  greater,
  greater_equal,
  logical_and,
  logical_or,
  bitwise_and,
  bitwise_or,
  bitwise_xor,
  left_shift,
  right_shift,
  arctan2
};
const char* binary_name(BinaryOp op);
bool binary_is_comparison(BinaryOp op);

class Unary : public Primitive {
 public:
  explicit Unary(UnaryOp op) : op_(op) {}
  const char* name() const override { return unary_name(op_); }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Unary&>(o).op_ == op_;
  }
  bool is_elementwise() const override { return true; }
  UnaryOp op() const { return op_; }

 private:
  UnaryOp op_;
};

class Binary : public Primitive {
 public:
  explicit Binary(BinaryOp op) : op_(op) {}
  const char* name() const override { return binary_name(op_); }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const Binary&>(o).op_ == op_;
  }
  bool is_elementwise() const override { return true; }
  BinaryOp op() const { return op_; }

 private:
  BinaryOp op_;
};

// where(cond, a, b)
class Select : public Primitive {
 public:
  const char* name() const override { return "where"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
  bool is_elementwise() const override { return true; }
};

class AsType : public Primitive {
 public:
  const char* name() const override { return "astype"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive&) const override { return true; }
  bool is_elementwise() const override { return true; }
};

}  // namespace lathe
