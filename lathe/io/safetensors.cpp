#include "lathe/io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "lathe/backend/cpu/strided.h"
#include "lathe/core/scheduler.h"
#include "lathe/io/mapped_file.h"
#include "lathe/ops/device.h"
#include "lathe/primitives/load.h"

namespace lathe::io {

Dtype load_dtype(StDtype d) {
  switch (d) {
    case StDtype::BOOL: return bool_;
    case StDtype::U8: return uint8;
    case StDtype::I8: return int8;
    case StDtype::F8_E5M2:
    case StDtype::F8_E4M3: return bfloat16;
    case StDtype::I16:
    case StDtype::U16: return int32;
    case StDtype::F16: return float16;
    case StDtype::BF16: return bfloat16;
    case StDtype::I32: return int32;
    case StDtype::U32: return uint32;
    case StDtype::F32: return float32;
    case StDtype::F64: return float64;
    case StDtype::I64: return int64;
  }
  return float32;
}

namespace {
StDtype store_dtype(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_: return StDtype::BOOL;
    case Dtype::Val::uint8: return StDtype::U8;
    case Dtype::Val::uint32: return StDtype::U32;
    case Dtype::Val::int8: return StDtype::I8;
    case Dtype::Val::int32: return StDtype::I32;
    case Dtype::Val::int64: return StDtype::I64;
    case Dtype::Val::float16: return StDtype::F16;
    case Dtype::Val::bfloat16: return StDtype::BF16;
    case Dtype::Val::float32: return StDtype::F32;
    case Dtype::Val::float64: return StDtype::F64;
  }
  return StDtype::F32;
}
}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto f = std::make_shared<SafetensorsFile>();
  try {
    f->file_ = MappedFile::open(path);
  } catch (const Error& e) {
    throw Error(std::string("[safetensors] ") + e.what());
  }
  f->header_ = parse_safetensors_header(f->file_->data(), f->file_->size(), f->file_->size(), path);
  return f;
}

const std::string& SafetensorsFile::path() const { return file_->path(); }

Array SafetensorsFile::load(const std::string& name) const {
  const StTensor* t = header_.find(name);
  if (!t) throw Error("[safetensors] " + path() + ": no tensor named '" + name + "'");
  const Device device = default_device();
  // Loads read the mapped file on the host; other devices get an explicit copy.
  Array host = [&] {
    DeviceScope on_host(Device::cpu);
    return Array(Shape(t->shape.begin(), t->shape.end()), load_dtype(t->dtype),
                 std::make_shared<Load>(file_, header_.data_offset + t->begin, t->dtype), {});
  }();
  return to_device(host, device);
}

std::map<std::string, Array> SafetensorsFile::load_all() const {
  std::map<std::string, Array> out;
  for (const auto& t : header_.tensors) out.emplace(t.name, load(t.name));
  return out;
}

std::map<std::string, Array> load_safetensors(const std::string& path) {
  return SafetensorsFile::open(path)->load_all();
}

void save_safetensors(const std::string& path, const std::map<std::string, Array>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Array>> order(tensors.begin(), tensors.end());
  for (auto& [name, a] : order) {
    if (name == "__metadata__")
      throw Error("[safetensors] '__metadata__' is not a valid tensor name");
    a.check_valid("save_safetensors");
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& l, const auto& r) {
    StDtype dl = store_dtype(l.second.dtype()), dr = store_dtype(r.second.dtype());
    if (dl != dr) return dl > dr;
    return l.first < r.first;
  });
  std::vector<StTensor> infos;
  uint64_t at = 0;
  for (auto& [name, a] : order) {
    StTensor t{name, store_dtype(a.dtype()), Shape(a.shape()), at, at + a.nbytes()};
    at = t.end;
    infos.push_back(std::move(t));
  }
  std::string header = serialize_safetensors_header(infos, metadata);
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("[safetensors] cannot write " + path);
  auto fail = [&](const std::string& what) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw Error("[safetensors] writing " + path + ": " + what);
  };
  if (std::fwrite(header.data(), 1, header.size(), f) != header.size()) fail("short write");
  for (auto& [name, arr] : order) {
    // The bytes are written from the host: a GPU array is copied back first.
    Array a = to_device(arr, Device::cpu);
    // Computed without an eval(): saving must not free the caller's arrays.
    if (!a.is_available()) eval_nodes({a.node_ptr()}, true);
    const auto& n = a.node();
    n.wait();
    std::vector<char> buf;
    const void* p = n.raw();
    if (!n.contiguous) {
      buf.resize(n.nbytes());
      cpu::gather_contiguous(n, buf.data());
      p = buf.data();
    }
    if (n.nbytes() && std::fwrite(p, 1, n.nbytes(), f) != n.nbytes()) fail("short write");
  }
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    throw Error("[safetensors] writing " + path + ": close failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("[safetensors] cannot move " + tmp + " to " + path);
  }
}

}  // namespace lathe::io
