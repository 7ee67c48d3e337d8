// ToDevice: an explicit copy of an array to another device (host <-> GPU).
#pragma once

#include "lathe/core/primitive.h"

namespace lathe {

// The output node's device is the destination; the input's is the source.
class ToDevice : public Primitive {
 public:
  explicit ToDevice(Device device) : device_(device) {}
  const char* name() const override { return "to_device"; }
  void eval_cpu(const NodeList& in, detail::Node& out) override;
  LATHE_CUDA_EVAL
  bool equivalent(const Primitive& o) const override {
    return static_cast<const ToDevice&>(o).device_ == device_;
  }
  std::string describe() const override {
    return std::string("to_device(") + device_name(device_) + ")";
  }
  Device device() const { return device_; }

 private:
  Device device_;
};

}  // namespace lathe
