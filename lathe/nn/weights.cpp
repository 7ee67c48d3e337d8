// Shape-checked, dtype-converted access to a folder's weights.
#include "lathe/nn/weights.h"

#include "lathe/io/model_folder.h"
#include "lathe/ops/device.h"
#include "lathe/ops/elementwise.h"

namespace lathe::nn {

Weights::Weights(io::WeightStore store, io::QuantConfig quant, std::optional<Dtype> dtype,
                 Device device)
    : store_(std::move(store)), quant_(std::move(quant)), dtype_(dtype), device_(device) {}

Weights Weights::open(const std::string& dir, std::optional<Dtype> dtype, Device device) {
  io::ModelFolder folder = io::ModelFolder::open(dir);
  return Weights(folder.weights(), folder.quant(), dtype, device);
}

Array Weights::convert(const Array& a) const {
  Array out = a;
  if (a.dtype().is_floating() && dtype_ && a.dtype() != *dtype_) out = astype(a, *dtype_);
  return to_device(out, device_);
}

// Tensors are read on the host (DeviceScope: the store's loads make no GPU
// nodes) and copied to device_ in convert().
Array Weights::get(const std::string& name, const Shape& shape) const {
  DeviceScope host(Device::cpu);
  if (!store_.contains(name)) {
    throw Error("[load_model] " + source() + ": missing tensor '" + name + "'");
  }
  Array a = store_.get(name);
  if (a.shape() != shape) {
    throw Error("[load_model] " + source() + ": tensor '" + name + "' has shape " +
                shape_str(a.shape()) + ", expected " + shape_str(shape));
  }
  return convert(a);
}

io::LinearWeights Weights::linear(const std::string& path,
                                  const std::function<void(io::LinearWeights&)>& take) const {
  DeviceScope host(Device::cpu);
  io::LinearWeights w = io::load_linear(store_, path, quant_);
  if (take) take(w);
  w.weight = w.quantized() ? to_device(w.weight, device_) : convert(w.weight);
  if (w.scales) w.scales = convert(*w.scales);
  if (w.biases) w.biases = convert(*w.biases);
  if (w.bias) w.bias = convert(*w.bias);
  return w;
}

void Weights::rename_prefix(const std::string& from, const std::string& to) {
  store_ = store_.rename_prefix(from, to);
}

}  // namespace lathe::nn
