// DeviceGraph (device_graph.h): records one evaluation's GPU work through the
// backend and replays it as a ReplayGraph node.
#include "lathe/core/device_graph.h"

#include <string>

#include "lathe/backend/device.h"
#include "lathe/core/scheduler.h"
#include "lathe/core/transforms.h"
#include "lathe/primitives/device_graph.h"

namespace lathe {

namespace {

const char* kOp = "device_graph";

detail::RecordedWork::Region region_of(const detail::Node& n) {
  return {n.buffer, n.offset, n.nbytes()};
}

void check_recorded_input(const Array& a, size_t i) {
  a.check_valid(kOp);
  const detail::Node& n = a.node();
  const std::string which = "input " + std::to_string(i);
  if (a.device() != Device::cuda) {
    throw Error(std::string("[device_graph] ") + which + " is on " + device_name(a.device()) +
                "; graphs record GPU work");
  }
  if (n.status.load() != detail::Status::available || !n.buffer) {
    throw Error("[device_graph] " + which + " must be computed (eval it first)");
  }
  if (!n.kept.load() || !n.contiguous || n.data_size != n.size() || !n.buffer->owned()) {
    throw Error("[device_graph] " + which +
                " must be a kept, contiguous array with a buffer of its own");
  }
}

}  // namespace

DeviceGraph::DeviceGraph(const std::vector<Array>& inputs, const Array& output)
    : inputs_(inputs), output_(output) {
  if (!cuda_available()) throw Error("[device_graph] needs a CUDA GPU");
  for (size_t i = 0; i < inputs.size(); ++i) check_recorded_input(inputs[i], i);
  output.check_valid(kOp);
  if (output.device() != Device::cuda) {
    throw Error(std::string("[device_graph] the output is on ") + device_name(output.device()) +
                "; graphs record GPU work");
  }
  if (output.node().status.load() == detail::Status::available) {
    throw Error("[device_graph] the output is already computed: nothing to record");
  }
  keep(output_);
  // Only this evaluation's work may land in the recording.
  synchronize_stream();
  auto node = output_.node_ptr();
  work_ = detail::cuda_record([&] {
    eval_nodes({node}, false);
    wait_for_tasks();
    node->wait();
  });
  for (const Array& a : inputs_) work_->inputs.push_back(region_of(a.node()));
  work_->output = region_of(output_.node());
}

Array DeviceGraph::replay(const std::vector<Array>& inputs) const {
  if (inputs.size() != inputs_.size()) {
    throw Error("[device_graph] replay takes " + std::to_string(inputs_.size()) +
                " inputs, got " + std::to_string(inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].check_valid(kOp);
    if (inputs[i].shape() != inputs_[i].shape() || inputs[i].dtype() != inputs_[i].dtype()) {
      throw Error("[device_graph] input " + std::to_string(i) + " is " +
                  shape_str(inputs[i].shape()) + " " + inputs[i].dtype().name() +
                  "; the graph recorded " + shape_str(inputs_[i].shape()) + " " +
                  inputs_[i].dtype().name());
    }
  }
  return Array(output_.shape(), output_.dtype(), std::make_shared<ReplayGraph>(work_), inputs);
}

size_t DeviceGraph::nodes() const { return work_->nodes; }

size_t DeviceGraph::held_bytes() const {
  size_t n = 0;
  for (const auto& b : work_->held) n += b->size();
  return n;
}

void ReplayGraph::eval_cpu(const NodeList&, detail::Node&) {
  throw Error("[replay_graph] device graphs replay on the GPU only");
}

}  // namespace lathe
