#include "lathe/core/array.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "lathe/backend/cpu/strided.h"
#include "lathe/backend/device.h"
#include "lathe/core/primitive.h"
#include "lathe/core/scheduler.h"
#include "lathe/core/tracker.h"
#include "lathe/primitives/device.h"

namespace lathe {

size_t shape_size(const Shape& s) {
  size_t n = 1;
  for (auto d : s) n *= static_cast<size_t>(d);
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  if (s.size() == 1) o << ",";
  o << ")";
  return o.str();
}

Strides row_strides(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

Strides broadcast_strides(const detail::Node& in, const Shape& shape) {
  Strides st(shape.size(), 0);
  size_t off = shape.size() - in.shape.size();
  for (size_t i = 0; i < in.shape.size(); ++i) {
    st[off + i] = in.shape[i] == 1 ? 0 : in.strides[i];
  }
  return st;
}

namespace {
thread_local Device default_device_ = Device::cpu;
}

const char* device_name(Device d) { return d == Device::cuda ? "cuda" : "cpu"; }

Device default_device() { return default_device_; }

void set_default_device(Device d) {
  if (d == Device::cuda && !cuda_available()) {
    throw Error(
        "[set_default_device] cuda is not available (lathe was built without the CUDA backend or "
        "no GPU is present)");
  }
  default_device_ = d;
}

DeviceScope::DeviceScope(Device d) : previous_(default_device_) { set_default_device(d); }
DeviceScope::~DeviceScope() { default_device_ = previous_; }

namespace detail {

namespace {
std::atomic<uint64_t> next_id{1};

// C++ scalars live on the host and adopt the device of the other operands.
bool device_neutral(const Node& n) { return n.host_scalar && n.device == Device::cpu; }

Device inferred_device(const std::vector<std::shared_ptr<Node>>& inputs) {
  for (auto& in : inputs) {
    if (!device_neutral(*in)) return in->device;
  }
  return default_device_;
}
}  // namespace

Node::Node(Shape shape_, Dtype dtype_, std::shared_ptr<Primitive> prim,
           std::vector<std::shared_ptr<Node>> inputs_)
    : shape(std::move(shape_)),
      dtype(dtype_),
      id(next_id.fetch_add(1, std::memory_order_relaxed)),
      device(inferred_device(inputs_)),
      primitive(std::move(prim)),
      inputs(std::move(inputs_)) {
  for (auto& in : inputs) in->consumers.fetch_add(1);
}

Node::~Node() {
  // An unevaluated node going away no longer needs its inputs.
  for (auto& in : inputs) {
    if (in->consumers.fetch_sub(1) == 1 && in->freed.load() && claim_for_release(*in)) {
      in->release();
    }
  }
}

size_t Node::size() const { return shape_size(shape); }

void Node::allocate() {
  buffer = (device == Device::cuda ? cuda_allocator() : cpu_allocator()).allocate(nbytes());
  offset = 0;
  strides = row_strides(shape);
  data_size = size();
  contiguous = true;
}

void Node::share(const Node& src, const Strides& st, size_t offset_bytes, size_t span) {
  buffer = src.buffer;
  offset = offset_bytes;
  strides = st;
  data_size = span;
  // Row-major dense iff strides match the row strides over non-unit dims.
  Strides rs = row_strides(shape);
  contiguous = true;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] != 1 && strides[i] != rs[i]) contiguous = false;
  }
}

bool Node::donatable() const {
  return buffer && buffer->owned() && buffer.use_count() == 1 && consumers.load() == 1 &&
         contiguous && data_size == size() &&
         (handles.load() == 0 || freed.load() || free_requested.load()) &&
         !(kept.load() && handles.load() > 0 && !free_requested.load());
}

void Node::donate_from(Node& src) {
  buffer = std::move(src.buffer);
  offset = src.offset;
  strides = row_strides(shape);
  data_size = size();
  contiguous = true;
}

void Node::detach() {
  auto ins = std::move(inputs);
  inputs.clear();
  primitive.reset();
  for (auto& in : ins) {
    // A freed input whose last reader goes away is released, unless a task holds it (a
    // reader released unevaluated while another thread's eval holds the input): that task
    // computes it and then releases it (claim_for_release decides atomically).
    if (in->consumers.fetch_sub(1) == 1 && in->freed.load() && claim_for_release(*in)) {
      in->release();
    }
  }
}

void Node::release() {
  if (released.exchange(true)) return;
  buffer.reset();
  detach();
}

void Node::wait() const {
  // The worker resets `task` while other threads read it: atomic access to the shared_ptr.
  auto t = std::atomic_load(&task);
  if (status.load() == Status::available) return;
  if (t) t->wait();
  if (status.load() != Status::available) {
    throw Error("[eval] the array could not be computed (an earlier evaluation failed)");
  }
}

}  // namespace detail

namespace {
std::shared_ptr<detail::Node> scalar_node(const void* v, Dtype d) {
  auto n = std::make_shared<detail::Node>(Shape{}, d, nullptr,
                                          std::vector<std::shared_ptr<detail::Node>>{});
  n->weak_scalar = true;
  n->host_scalar = true;
  n->device = Device::cpu;
  n->allocate();
  std::memcpy(n->raw(), v, d.size());
  n->status.store(detail::Status::available);
  if (detail::tracking_enabled()) detail::tracker().track(n);
  return n;
}
}  // namespace

Array::Array(std::shared_ptr<detail::Node> node) : node_(std::move(node)) {
  node_->handles.fetch_add(1);
}
Array::Array(float v) : Array(scalar_node(&v, float32)) {}
Array::Array(double v) : Array(float(v)) {}
Array::Array(int v) : Array(scalar_node(&v, int32)) {}
Array::Array(int64_t v) : Array(scalar_node(&v, int64)) {}
Array::Array(bool v) {
  uint8_t b = v;
  node_ = scalar_node(&b, bool_);
  node_->handles.fetch_add(1);
}

Array::Array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> prim, std::vector<Array> inputs) {
  const char* op = prim ? prim->name() : "array";
  std::vector<std::shared_ptr<detail::Node>> ins;
  ins.reserve(inputs.size());
  for (auto& a : inputs) {
    a.check_valid(op);
    ins.push_back(a.node_);
  }
  // Arithmetic on C++ scalars alone stays a host scalar (e.g. a scalar's astype).
  const bool host_scalar = !ins.empty() && shape.empty() &&
                           std::all_of(ins.begin(), ins.end(),
                                       [](const auto& in) { return detail::device_neutral(*in); });
  // Nothing migrates silently: every array input must be on one device.
  const Device device = host_scalar ? Device::cpu : detail::inferred_device(ins);
  for (auto& in : ins) {
    if (!detail::device_neutral(*in) && in->device != device) {
      throw Error(std::string("[") + op + "] inputs are on different devices (" +
                  device_name(device) + " and " + device_name(in->device) +
                  "); move arrays explicitly with to_device()");
    }
  }
  // A C++ scalar read by a GPU op is copied there as part of the graph.
  if (device != Device::cpu) {
    for (auto& in : ins) {
      if (!detail::device_neutral(*in)) continue;
      auto copy =
          std::make_shared<detail::Node>(in->shape, in->dtype, std::make_shared<ToDevice>(device),
                                         std::vector<std::shared_ptr<detail::Node>>{in});
      copy->device = device;
      in = std::move(copy);
    }
  }
  node_ = std::make_shared<detail::Node>(std::move(shape), dtype, std::move(prim), std::move(ins));
  node_->device = device;
  node_->host_scalar = host_scalar;
  node_->handles.fetch_add(1);
  if (detail::tracking_enabled()) detail::tracker().track(node_);
}

Array::Array(const Array& o) : node_(o.node_) {
  if (node_) node_->handles.fetch_add(1);
}
Array::Array(Array&& o) noexcept : node_(std::move(o.node_)) {}
Array& Array::operator=(const Array& o) {
  if (this != &o) {
    if (o.node_) o.node_->handles.fetch_add(1);
    if (node_) node_->handles.fetch_sub(1);
    node_ = o.node_;
  }
  return *this;
}
Array& Array::operator=(Array&& o) noexcept {
  if (this != &o) {
    if (node_) node_->handles.fetch_sub(1);
    node_ = std::move(o.node_);
  }
  return *this;
}
Array::~Array() {
  if (node_) node_->handles.fetch_sub(1);
}

void Array::check_valid(const char* where) const {
  if (!node_) throw Error(std::string("[") + where + "] use of a moved-from array");
  if (node_->freed.load()) {
    throw Error(std::string("[") + where + "] array " + shape_str(node_->shape) + " " +
                node_->dtype.name() +
                " was freed: arrays that are not kept are freed by the next eval(); "
                "use keep() to hold an array across evals");
  }
}

const Shape& Array::shape() const {
  check_valid("shape");
  return node_->shape;
}
int64_t Array::shape(int axis) const {
  int nd = ndim();
  int a = axis < 0 ? axis + nd : axis;
  if (a < 0 || a >= nd) {
    throw Error("[shape] axis " + std::to_string(axis) + " is out of range for an array of " +
                std::to_string(nd) + " dimensions");
  }
  return node_->shape[a];
}
Device Array::device() const {
  check_valid("device");
  return node_->device;
}
Dtype Array::dtype() const {
  check_valid("dtype");
  return node_->dtype;
}
size_t Array::size() const {
  check_valid("size");
  return node_->size();
}
int Array::ndim() const {
  check_valid("ndim");
  return static_cast<int>(node_->shape.size());
}
size_t Array::nbytes() const {
  check_valid("nbytes");
  return node_->nbytes();
}
bool Array::valid() const { return node_ && !node_->freed.load(); }
void Array::free() {
  if (!node_) throw Error("[free] use of a moved-from array");
  if (node_->freed.load()) return;  // already freed: nothing to do
  node_->free_requested.store(true);
}

void Array::read(void* dst, Dtype as, bool one) {
  check_valid(one ? "item" : "to_vector");
  if (one && node_->size() != 1) {
    throw Error("[item] item() needs an array of one element; this one has shape " +
                shape_str(node_->shape));
  }
  std::shared_ptr<detail::Node> src = node_;
  if (src->device != Device::cpu) {
    // An output of an evaluation is read as soon as its own kernels are done, through its
    // ready event: the read does not queue behind work scheduled after it (the next step).
    if (src->status.load() == detail::Status::lazy) eval_nodes({src}, /*wait=*/false);
    src->wait();
    if (src->ready && src->contiguous) {
      std::vector<char> tmp(src->nbytes());
      detail::cuda_read_ready(*src, tmp.data());
      convert_elements(tmp.data(), src->dtype, dst, as, src->size());
      return;
    }
  }
  if (src->device != Device::cpu) {
    // The readback: an untracked copy to the host, computed with the array.
    detail::SuspendTracking untracked;
    src = std::make_shared<detail::Node>(src->shape, src->dtype,
                                         std::make_shared<ToDevice>(Device::cpu),
                                         std::vector<std::shared_ptr<detail::Node>>{node_});
    src->device = Device::cpu;
  }
  if (src->status.load() != detail::Status::available) eval_nodes({src}, /*wait=*/true);
  src->wait();
  const auto& n = *src;
  if (n.contiguous) {
    convert_elements(n.raw(), n.dtype, dst, as, n.size());
    return;
  }
  std::vector<char> tmp(n.nbytes());
  cpu::gather_contiguous(n, tmp.data());
  convert_elements(tmp.data(), n.dtype, dst, as, n.size());
}

}  // namespace lathe
