// Primitive: what a lazy node computes. Ops create primitives; each backend
// implements eval_<backend> for every primitive in lathe/backend/<backend>/.
#pragma once

#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

using NodeList = std::vector<detail::Node*>;

class Primitive {
 public:
  virtual ~Primitive() = default;
  virtual const char* name() const = 0;
  // Computes out from inputs; out's shape and dtype are set, its data is not.
  virtual void eval_cpu(const NodeList& inputs, detail::Node& out) = 0;
  // Without the CUDA backend, or for primitives without a CUDA kernel yet, it throws.
  virtual void eval_cuda(const NodeList& inputs, detail::Node& out);
  // compile: whether two primitives of the same type compute the same function.
  virtual bool equivalent(const Primitive& other) const { return false; }
  // compile: one-element-in, one-element-out ops that can be fused into a loop.
  virtual bool is_elementwise() const { return false; }
  // Human-readable parameters for graph printing and error messages.
  virtual std::string describe() const { return name(); }
};

// Declares eval_cuda in a primitive the CUDA backend implements; the
// definition lives in lathe/backend/cuda/ and exists only in CUDA builds.
#ifdef LATHE_HAS_CUDA
#define LATHE_CUDA_EVAL void eval_cuda(const NodeList& in, detail::Node& out) override;
#else
#define LATHE_CUDA_EVAL
#endif

}  // namespace lathe
