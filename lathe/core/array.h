// lathe::Array: a handle to a node of a lazy graph. Ops record nodes; eval()
// computes them. Every array is tracked when created and freed by the next
// eval unless kept (see memory.h and ../shared/DESIGN.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "lathe/core/allocator.h"
#include "lathe/core/dtype.h"
#include "lathe/core/error.h"

namespace lathe {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

enum class Device : uint8_t { cpu, cuda };
const char* device_name(Device d);

// The device that ops without array inputs (creation ops, loads) place their
// arrays on; per thread, cpu unless set. Setting cuda without a GPU throws.
Device default_device();
void set_default_device(Device d);

// Sets the default device for a scope and restores the previous one.
class DeviceScope {
 public:
  explicit DeviceScope(Device d);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  Device previous_;
};

class Primitive;
class Task;

namespace detail {

enum class Status : uint8_t { lazy, scheduled, available };

// The shared state behind every handle to one array. Backends read and write
// nodes; user code only sees Array.
class Node {
 public:
  Node(Shape shape, Dtype dtype, std::shared_ptr<Primitive> prim,
       std::vector<std::shared_ptr<Node>> inputs);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Description (immutable after construction).
  Shape shape;
  Dtype dtype;
  uint64_t id;
  // Where the data lives and the node runs: its inputs' device (C++ scalars
  // adopt it), or the default device for a node without array inputs.
  Device device = Device::cpu;
  bool weak_scalar = false;  // a C++ scalar: adopts the other operand's dtype
  // A C++ scalar, or a 0-d result computed from them alone: it lives on the
  // host and adopts the device of the other operands (copied there in the graph).
  bool host_scalar = false;

  // Graph (dropped once the node is computed).
  std::shared_ptr<Primitive> primitive;
  std::vector<std::shared_ptr<Node>> inputs;

  // Data (set by the backend when computed; views share the buffer).
  std::shared_ptr<Buffer> buffer;
  size_t offset = 0;        // bytes from buffer->ptr() to element 0
  Strides strides;          // in elements
  size_t data_size = 0;     // elements spanned in the buffer by this view
  bool contiguous = false;  // row-major dense, offset may be non-zero

  // Lifetime.
  std::atomic<Status> status{Status::lazy};
  std::atomic<bool> kept{false};
  std::atomic<bool> free_requested{false};  // free() called; applied at the next eval
  std::atomic<bool> freed{false};           // handles throw on use
  std::atomic<bool> released{false};        // data and graph dropped
  std::atomic<int> consumers{0};            // not-yet-computed nodes that read this one
  std::atomic<int> handles{0};              // Array handles that refer to this node
  std::shared_ptr<Task> task;               // while scheduled
  // A GPU output of an evaluation: an event recorded right after its kernels, so that a read
  // waits for this node alone, not for work queued after it (the next decode step).
  std::shared_ptr<void> ready;

  size_t size() const;
  size_t nbytes() const { return size() * dtype.size(); }
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(buffer->ptr()) + offset);
  }
  void* raw() const { return static_cast<char*>(buffer->ptr()) + offset; }

  // Backends: give this node a fresh row-contiguous buffer on its device.
  void allocate();
  // Backends: make this node a view of src's buffer.
  void share(const Node& src, const Strides& strides, size_t offset_bytes, size_t data_size);
  // Backends: take over src's buffer in place (src must be donatable).
  void donate_from(Node& src);
  // Whether this input's buffer may be reused in place by its single consumer.
  bool donatable() const;

  // Drops the graph edges after computation and releases inputs nobody needs.
  void detach();
  // Drops data and graph. Idempotent.
  void release();
  void wait() const;  // until computed (rethrows a failed evaluation)
};

}  // namespace detail

class Array {
 public:
  // Scalars; C++ scalars are "weak": `x * 2.0f` keeps x's dtype.
  Array(float v);    // NOLINT(google-explicit-constructor)
  Array(double v);   // NOLINT
  Array(int v);      // NOLINT
  Array(int64_t v);  // NOLINT
  Array(bool v);     // NOLINT
  // A lazy node computed by prim from inputs (used by ops).
  Array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> prim, std::vector<Array> inputs);
  explicit Array(std::shared_ptr<detail::Node> node);

  Array(const Array& o);
  Array(Array&& o) noexcept;
  Array& operator=(const Array& o);
  Array& operator=(Array&& o) noexcept;
  ~Array();

  const Shape& shape() const;
  int64_t shape(int axis) const;  // negative axes count from the end
  Dtype dtype() const;
  size_t size() const;
  int ndim() const;
  size_t nbytes() const;
  size_t itemsize() const { return dtype().size(); }
  uint64_t id() const { return node_->id; }

  // False once the array was freed (by free() and an eval, or by an eval while unkept).
  bool valid() const;
  // Marks the array for cleanup at the next eval.
  void free();
  bool is_kept() const { return node_->kept.load(); }
  bool is_available() const { return node_->status.load() == detail::Status::available; }

  Device device() const;

  // Evaluates (keeping the array) and reads the first element / all elements.
  // An array on the GPU is copied to the host explicitly (the readback).
  template <typename T>
  T item();
  template <typename T>
  std::vector<T> to_vector();

  // Runtime internals.
  detail::Node& node() const { return *node_; }
  const std::shared_ptr<detail::Node>& node_ptr() const { return node_; }
  void check_valid(const char* where) const;

 private:
  void read(void* dst, Dtype as, bool one);
  std::shared_ptr<detail::Node> node_;
};

// Converts n elements of type `from` to type `to` (bit-exact where representable).
void convert_elements(const void* src, Dtype from, void* dst, Dtype to, size_t n);

template <typename T>
T Array::item() {
  T v{};
  read(&v, dtype_of<T>::value, true);
  return v;
}

template <typename T>
std::vector<T> Array::to_vector() {
  check_valid("to_vector");
  std::vector<T> v(size());
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> tmp(size());
    read(tmp.data(), bool_, false);
    for (size_t i = 0; i < tmp.size(); ++i) v[i] = tmp[i] != 0;
  } else {
    read(v.data(), dtype_of<T>::value, false);
  }
  return v;
}

template <>
inline bool Array::item<bool>() {
  uint8_t v = 0;
  read(&v, bool_, true);
  return v != 0;
}

size_t shape_size(const Shape& s);
std::string shape_str(const Shape& s);
Strides row_strides(const Shape& s);
// Element strides that view node `in` as `shape` (broadcast dims get stride 0).
Strides broadcast_strides(const detail::Node& in, const Shape& shape);

}  // namespace lathe
