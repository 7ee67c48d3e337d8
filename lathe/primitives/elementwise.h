// Elementwise primitives: unary and binary math, select, dtype conversion.
#pragma once

#include "lathe/core/primitive.h"
#include "lathe/primitives/elementwise_codes.h"

namespace lathe {

const char* unary_name(UnaryOp op);
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
