#include "lathe/ops/creation.h"

#include <cmath>
#include <memory>

#include "lathe/core/tracker.h"
#include "lathe/ops/device.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/creation.h"

namespace lathe {

namespace {
void check_shape(const char* op, const Shape& shape) {
  for (auto d : shape) {
    if (d < 0) op_error(op, "negative dimension in shape " + shape_str(shape));
  }
}
}  // namespace

Array array_from(const void* data, Dtype src_dtype, Shape shape, Dtype dtype) {
  check_shape("array", shape);
  if (default_device() != Device::cpu) {
    // Host data reaches the default device through an explicit copy node.
    Array host = [&] {
      DeviceScope on_host(Device::cpu);
      return array_from(data, src_dtype, std::move(shape), dtype);
    }();
    return to_device(host, default_device());
  }
  auto n = std::make_shared<detail::Node>(std::move(shape), dtype, nullptr,
                                          std::vector<std::shared_ptr<detail::Node>>{});
  n->allocate();
  convert_elements(data, src_dtype, n->raw(), dtype, n->size());
  n->status.store(detail::Status::available);
  if (detail::tracking_enabled()) detail::tracker().track(n);
  return Array(std::move(n));
}

Array full(Shape shape, double value, Dtype dtype) {
  check_shape("full", shape);
  return Array(std::move(shape), dtype, std::make_shared<Full>(value), {});
}

Array full(Shape shape, const Array& value) {
  check_shape("full", shape);
  return contiguous(broadcast_to(value, std::move(shape)));
}

Array zeros(Shape shape, Dtype dtype) { return full(std::move(shape), 0.0, dtype); }
Array ones(Shape shape, Dtype dtype) { return full(std::move(shape), 1.0, dtype); }
Array zeros_like(const Array& a) { return zeros(a.shape(), a.dtype()); }
Array ones_like(const Array& a) { return ones(a.shape(), a.dtype()); }
Array full_like(const Array& a, double value) { return full(a.shape(), value, a.dtype()); }

Array arange(double start, double stop, double step, Dtype dtype) {
  if (step == 0) op_error("arange", "step must not be zero");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    op_error("arange", "start, stop and step must be finite");
  }
  double n = std::ceil((stop - start) / step);
  if (n > 1e12) op_error("arange", "too many elements");
  int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
  return Array(Shape{count}, dtype, std::make_shared<Arange>(start, step), {});
}

Array arange(int64_t stop, Dtype dtype) { return arange(0.0, double(stop), 1.0, dtype); }

Array linspace(double start, double stop, int64_t num, Dtype dtype) {
  if (num < 0) op_error("linspace", "num must be non-negative, got " + std::to_string(num));
  if (num == 1) return full({1}, start, dtype);
  double step = num > 1 ? (stop - start) / double(num - 1) : 0.0;
  return Array(Shape{num}, dtype, std::make_shared<Arange>(start, step), {});
}

Array tri(int64_t n, int64_t m, int64_t k, Dtype dtype) {
  if (m < 0) m = n;
  if (n < 0) op_error("tri", "n must be non-negative");
  Array rows = reshape(arange(n, int64), {n, 1});
  Array cols = reshape(arange(m, int64), {1, m});
  return astype(less_equal(cols, rows + Array(k)), dtype);
}

Array eye(int64_t n, int64_t m, int64_t k, Dtype dtype) {
  if (m < 0) m = n;
  if (n < 0) op_error("eye", "n must be non-negative");
  Array rows = reshape(arange(n, int64), {n, 1});
  Array cols = reshape(arange(m, int64), {1, m});
  return astype(equal(cols, rows + Array(k)), dtype);
}

Array tril(const Array& a, int64_t k) {
  if (a.ndim() < 2) op_error("tril", "needs at least 2 dimensions, got " + shape_str(a.shape()));
  Array mask = tri(a.shape(-2), a.shape(-1), k, bool_);
  return where(mask, a, zeros({}, a.dtype()));
}

Array triu(const Array& a, int64_t k) {
  if (a.ndim() < 2) op_error("triu", "needs at least 2 dimensions, got " + shape_str(a.shape()));
  Array mask = tri(a.shape(-2), a.shape(-1), k - 1, bool_);
  return where(mask, zeros({}, a.dtype()), a);
}

}  // namespace lathe
