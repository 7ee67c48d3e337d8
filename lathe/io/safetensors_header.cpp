#include "lathe/io/safetensors_header.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lathe/core/error.h"

namespace lathe::io {

namespace {

struct DtypeName {
  StDtype dtype;
  const char* name;
  size_t size;
};
constexpr DtypeName kDtypes[] = {
    {StDtype::BOOL, "BOOL", 1},       {StDtype::U8, "U8", 1},           {StDtype::I8, "I8", 1},
    {StDtype::F8_E5M2, "F8_E5M2", 1}, {StDtype::F8_E4M3, "F8_E4M3", 1}, {StDtype::I16, "I16", 2},
    {StDtype::U16, "U16", 2},         {StDtype::F16, "F16", 2},         {StDtype::BF16, "BF16", 2},
    {StDtype::I32, "I32", 4},         {StDtype::U32, "U32", 4},         {StDtype::F32, "F32", 4},
    {StDtype::F64, "F64", 8},         {StDtype::I64, "I64", 8},
};

[[noreturn]] void fail(const std::string& label, const std::string& msg) {
  throw Error("[safetensors] " + label + ": " + msg);
}

}  // namespace

size_t st_itemsize(StDtype d) { return kDtypes[static_cast<int>(d)].size; }
const char* st_name(StDtype d) { return kDtypes[static_cast<int>(d)].name; }

const StTensor* StHeader::find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

StHeader parse_safetensors_header(const uint8_t* bytes, size_t available, uint64_t file_size,
                                  const std::string& label) {
  if (file_size < 8 || available < 8) {
    fail(label,
         "file is " + std::to_string(file_size) + " bytes, too short for a safetensors header");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > kMaxHeaderSize) {
    fail(label, "header length " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(kMaxHeaderSize) + " bytes (damaged or not a safetensors file)");
  }
  if (n > file_size - 8) {
    fail(label, "header length " + std::to_string(n) + " runs past the end of the " +
                    std::to_string(file_size) + "-byte file (truncated?)");
  }
  if (available < 8 + n) fail(label, "header not fully read");
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  if (n == 0 || text[0] != '{') fail(label, "header does not start with '{'");

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, text + n);
  } catch (const nlohmann::json::exception& e) {
    fail(label, std::string("header is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(label, "header is not a JSON object");

  StHeader h;
  h.data_offset = 8 + n;
  h.data_size = file_size - h.data_offset;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(label, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail(label, "__metadata__ value of '" + m.key() + "' is not a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto where = "tensor '" + name + "': ";
    if (!v.is_object()) fail(label, where + "entry is not an object");
    auto d = v.find("dtype");
    auto s = v.find("shape");
    auto o = v.find("data_offsets");
    if (d == v.end() || !d->is_string()) fail(label, where + "missing or non-string 'dtype'");
    if (s == v.end() || !s->is_array()) fail(label, where + "missing or non-array 'shape'");
    if (o == v.end() || !o->is_array() || o->size() != 2) {
      fail(label, where + "'data_offsets' must be an array of two integers");
    }
    StTensor t;
    t.name = name;
    std::string dn = d->get<std::string>();
    auto known = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                              [&](const DtypeName& k) { return dn == k.name; });
    if (known == std::end(kDtypes)) fail(label, where + "unsupported dtype '" + dn + "'");
    t.dtype = known->dtype;
    uint64_t elems = 1;
    bool overflow = false;
    for (const auto& dim : *s) {
      if (!dim.is_number_unsigned() && !(dim.is_number_integer() && dim.get<int64_t>() >= 0)) {
        fail(label, where + "shape holds a value that is not a non-negative integer");
      }
      uint64_t x = dim.get<uint64_t>();
      if (x > (uint64_t(1) << 62)) overflow = true;
      t.shape.push_back(static_cast<int64_t>(x));
      if (x != 0 && elems > UINT64_MAX / x) overflow = true;
      elems *= x;
    }
    for (const auto& off : *o) {
      if (!off.is_number_unsigned() && !(off.is_number_integer() && off.get<int64_t>() >= 0)) {
        fail(label, where + "data_offsets hold a value that is not a non-negative integer");
      }
    }
    t.begin = (*o)[0].get<uint64_t>();
    t.end = (*o)[1].get<uint64_t>();
    size_t item = st_itemsize(t.dtype);
    if (overflow || elems > UINT64_MAX / item) fail(label, where + "shape is too large");
    if (t.end < t.begin) fail(label, where + "data_offsets end before they begin");
    if (elems * item != t.end - t.begin) {
      fail(label, where + std::to_string(elems) + " elements of " + dn + " need " +
                      std::to_string(elems * item) + " bytes but data_offsets span " +
                      std::to_string(t.end - t.begin));
    }
    if (t.end > h.data_size) {
      fail(label, where + "data_offsets [" + std::to_string(t.begin) + ", " +
                      std::to_string(t.end) + ") run past the " + std::to_string(h.data_size) +
                      "-byte data area (truncated?)");
    }
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const StTensor& a, const StTensor& b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  uint64_t at = 0;
  for (const auto& t : h.tensors) {
    if (t.begin != at) {
      fail(label, "tensor '" + t.name + "': data_offsets begin at " + std::to_string(t.begin) +
                      (t.begin < at ? ", overlapping the previous tensor" : ", leaving a gap") +
                      " (expected " + std::to_string(at) + ")");
    }
    at = t.end;
  }
  if (at != h.data_size) {
    fail(label, "the tensors cover " + std::to_string(at) + " of the " +
                    std::to_string(h.data_size) +
                    " data bytes (trailing garbage or truncated index)");
  }
  return h;
}

std::string serialize_safetensors_header(const std::vector<StTensor>& tensors,
                                         const std::map<std::string, std::string>& metadata) {
  // Written by hand to control key order: __metadata__ first, then tensors in
  // order, each as dtype, shape, data_offsets; compact separators.
  std::string s = "{";
  bool first = true;
  if (!metadata.empty()) {
    s += "\"__metadata__\":" + nlohmann::json(metadata).dump();
    first = false;
  }
  for (const auto& t : tensors) {
    if (!first) s += ",";
    first = false;
    s += nlohmann::json(t.name).dump();
    s += ":{\"dtype\":\"";
    s += st_name(t.dtype);
    s += "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
    s += "],\"data_offsets\":[" + std::to_string(t.begin) + "," + std::to_string(t.end) + "]}";
  }
  s += "}";
  s.resize((s.size() + 7) / 8 * 8, ' ');
  std::string out(8, '\0');
  uint64_t n = s.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + s;
}

}  // namespace lathe::io
