// `lathe quantize`: MLX affine quantization of a model folder's Linear and
// Embedding weights, written shard by shard so memory stays near one shard.
#include "lathe/io/quantize_folder.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "lathe/core/error.h"
#include "lathe/io/json_file.h"
#include "lathe/io/model_folder.h"
#include "lathe/io/safetensors.h"
#include "lathe/ops/quantized.h"
#include "lathe/ops/shape.h"

namespace lathe::io {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Weight files are rewritten, never copied (safetensors, and the pickled or
// foreign formats some repositories carry next to them).
bool is_weight_file(const std::string& name) {
  for (const char* ext : {".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json",
                          ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".npz", ".onnx"})
    if (ends_with(name, ext)) return true;
  return name == "config.json";
}

bool is_float(StDtype d) {
  return d == StDtype::F16 || d == StDtype::BF16 || d == StDtype::F32 || d == StDtype::F64;
}

std::string shard_name(size_t i, size_t n) {
  if (n == 1) return "model.safetensors";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

uint64_t nbytes_of(const Shape& s, Dtype d) {
  uint64_t n = d.size();
  for (int64_t x : s) n *= static_cast<uint64_t>(x);
  return n;
}

}  // namespace

bool is_quantizable(const TensorInfo& t, int group_size) {
  return ends_with(t.name, ".weight") && t.shape.size() == 2 && is_float(t.dtype) &&
         group_size > 0 && t.shape[1] % group_size == 0 && t.shape[1] > 0 && t.shape[0] > 0;
}

size_t quantize_folder(const std::string& src, const std::string& dst,
                       const QuantizeOptions& opts) {
  const std::string op = "[quantize] ";
  if (opts.group_size != 32 && opts.group_size != 64 && opts.group_size != 128)
    throw Error(op + "--group-size must be 32, 64 or 128, got " + std::to_string(opts.group_size));
  if (opts.bits != 2 && opts.bits != 3 && opts.bits != 4 && opts.bits != 5 && opts.bits != 6 &&
      opts.bits != 8)
    throw Error(op + "--bits must be 2, 3, 4, 5, 6 or 8, got " + std::to_string(opts.bits));
  if (PipelineFolder::is_pipeline(src))
    throw Error(op + src +
                " is a diffusers pipeline folder; quantize one component folder instead");
  ModelFolder m = ModelFolder::open(src);
  if (m.quant().quantized()) throw Error(op + src + " is already quantized");
  std::error_code ec;
  if (fs::exists(dst, ec)) {
    if (!fs::is_directory(dst, ec) || !fs::is_empty(dst, ec))
      throw Error(op + dst + " already exists and is not an empty folder");
    if (fs::equivalent(src, dst, ec)) throw Error(op + "the destination is the source folder");
  }
  fs::create_directories(dst, ec);
  if (ec) throw Error(op + "cannot create " + dst + ": " + ec.message());

  // The output tensors in name order, each with its size, grouped into shards.
  struct Out {
    std::string name, source;
    enum { copy, codes, scales, biases } part;
    uint64_t bytes;
  };
  std::vector<Out> outs;
  size_t quantized = 0;
  for (const auto& t : m.weights().infos()) {
    Dtype d = load_dtype(t.dtype);
    Shape s(t.shape.begin(), t.shape.end());
    if (!is_quantizable(t, opts.group_size)) {
      outs.push_back({t.name, t.name, Out::copy, nbytes_of(s, d)});
      continue;
    }
    ++quantized;
    std::string base = t.name.substr(0, t.name.size() - 7);
    Dtype sd = d == float64 ? float32 : d;
    Shape packed{s[0], s[1] * opts.bits / 32}, groups{s[0], s[1] / opts.group_size};
    outs.push_back({t.name, t.name, Out::codes, nbytes_of(packed, uint32)});
    outs.push_back({base + ".scales", t.name, Out::scales, nbytes_of(groups, sd)});
    outs.push_back({base + ".biases", t.name, Out::biases, nbytes_of(groups, sd)});
  }
  std::sort(outs.begin(), outs.end(), [](const Out& a, const Out& b) { return a.name < b.name; });
  std::vector<std::vector<const Out*>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& o : outs) {
    if (in_shard > 0 && in_shard + o.bytes > opts.max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&o);
    in_shard += o.bytes;
    total += o.bytes;
  }

  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string file = shard_name(i, shards.size());
    std::map<std::string, Array> tensors;
    std::map<std::string, QuantizedWeight> done;  // one quantization per source weight
    for (const Out* o : shards[i]) {
      Array w = m.weights().get(o->source);
      if (o->part == Out::copy) {
        tensors.emplace(o->name, w);
      } else {
        auto it = done.find(o->source);
        if (it == done.end())
          it = done.emplace(o->source, quantize(w, opts.group_size, opts.bits)).first;
        const QuantizedWeight& qw = it->second;
        tensors.emplace(o->name, o->part == Out::codes    ? qw.wq
                                 : o->part == Out::scales ? qw.scales
                                                          : qw.biases);
      }
      weight_map[o->name] = file;
    }
    save_safetensors((fs::path(dst) / file).string(), tensors, {{"format", "mlx"}});
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_json_file((fs::path(dst) / "model.safetensors.index.json").string(), index, "quantize");

  nlohmann::json config = m.config();
  nlohmann::json q = {{"group_size", opts.group_size}, {"bits", opts.bits}};
  config["quantization"] = q;
  config["quantization_config"] = q;
  write_json_file((fs::path(dst) / "config.json").string(), config, "quantize");

  for (const auto& entry : fs::directory_iterator(src)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || is_weight_file(name)) continue;
    fs::copy_file(entry.path(), fs::path(dst) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error(op + "cannot copy " + entry.path().string() + ": " + ec.message());
  }
  return quantized;
}

}  // namespace lathe::io
