// ReplayGraph: runs a recorded device graph (core/device_graph.h) as one node.
#pragma once

#include <memory>

#include "lathe/core/primitive.h"

namespace lathe {

namespace detail {
struct RecordedWork;
}

// Inputs: the new values of the recorded inputs. Output: a copy of the recorded output.
class ReplayGraph : public Primitive {
 public:
  explicit ReplayGraph(std::shared_ptr<detail::RecordedWork> work) : work_(std::move(work)) {}
  const char* name() const override { return "replay_graph"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL

 private:
  std::shared_ptr<detail::RecordedWork> work_;
};

}  // namespace lathe
