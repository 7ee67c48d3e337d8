// Parsing the quantization entries of config.json, and loading a module's
// weights dense or quantized with its codes, scales and biases checked.
#include "lathe/io/quant_config.h"

#include <sstream>

#include "lathe/core/error.h"
#include "lathe/io/weight_store.h"

namespace lathe::io {

namespace {

using Json = nlohmann::json;

bool valid_affine(int group_size, int bits) {
  bool g = group_size == 32 || group_size == 64 || group_size == 128;
  bool b = bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8;
  return g && b;
}

int get_int(const Json& j, const char* key, int def, const std::string& where) {
  if (!j.contains(key)) return def;
  const Json& v = j[key];
  if (!v.is_number_integer())
    throw Error("[quant_config] " + where + ": \"" + key + "\" must be an integer");
  return v.get<int>();
}

QuantSpec parse_spec(const Json& j, const std::optional<QuantSpec>& base,
                     const std::string& where) {
  QuantSpec s;
  if (base) s = *base;
  if (!base && (!j.contains("group_size") || !j.contains("bits")))
    throw Error("[quant_config] " + where + ": needs \"group_size\" and \"bits\"");
  s.group_size = get_int(j, "group_size", s.group_size, where);
  s.bits = get_int(j, "bits", s.bits, where);
  if (j.contains("mode")) {
    if (!j["mode"].is_string())
      throw Error("[quant_config] " + where + ": \"mode\" must be a string");
    s.mode = j["mode"].get<std::string>();
  }
  if (s.mode == "affine") {
    if (!valid_affine(s.group_size, s.bits))
      throw Error("[quant_config] " + where + ": unsupported affine group_size " +
                  std::to_string(s.group_size) + " / bits " + std::to_string(s.bits) +
                  " (group_size 32, 64 or 128; bits 2, 3, 4, 5, 6 or 8)");
  } else if (s.mode == "mxfp4") {
    if (s.group_size != 32 || s.bits != 4)
      throw Error("[quant_config] " + where + ": mxfp4 needs group_size 32 and bits 4, got " +
                  std::to_string(s.group_size) + " / " + std::to_string(s.bits));
  } else {
    throw Error("[quant_config] " + where + ": unsupported mode '" + s.mode +
                "' (affine or mxfp4)");
  }
  return s;
}

bool is_spec_key(const std::string& k) {
  return k == "group_size" || k == "bits" || k == "mode" || k == "quant_method";
}

// '*' matches any run of characters within one dotted segment.
bool glob(const char* p, const char* s) {
  if (*p == 0) return *s == 0;
  if (*p == '*') {
    for (const char* t = s;; ++t) {
      if (glob(p + 1, t)) return true;
      if (*t == 0 || *t == '.') return false;
    }
  }
  return *p == *s && glob(p + 1, s + 1);
}

// A pattern names a module and everything inside it, wherever it sits in the
// path (transformers matches these names as substrings of module paths).
bool matches_module(const std::string& pattern, const std::string& path) {
  for (size_t b = 0; b <= path.size(); ++b) {
    if (b != 0 && path[b - 1] != '.') continue;
    for (size_t e = path.size(); e > b; --e) {
      if (e != path.size() && path[e] != '.') continue;
      if (glob(pattern.c_str(), path.substr(b, e - b).c_str())) return true;
    }
  }
  return false;
}

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

}  // namespace

QuantConfig QuantConfig::from_config(const Json& config, const std::string& label) {
  QuantConfig q;
  if (!config.is_object()) return q;
  const char* key =
      config.contains("quantization") && !config["quantization"].is_null()
          ? "quantization"
          : (config.contains("quantization_config") ? "quantization_config" : nullptr);
  if (!key || config[key].is_null()) return q;
  const Json& j = config[key];
  std::string where = label + ": \"" + key + "\"";
  if (!j.is_object()) throw Error("[quant_config] " + where + " must be an object");

  if (j.contains("quant_method") && !(j.contains("group_size") && j.contains("bits"))) {
    std::string method = j["quant_method"].is_string() ? j["quant_method"].get<std::string>() : "";
    if (method != "mxfp4")
      throw Error("[quant_config] " + where + ": unsupported quant_method '" + method +
                  "' (lathe reads MLX affine/mxfp4 and Hugging Face mxfp4 checkpoints)");
    q.default_ = QuantSpec{32, 4, "mxfp4"};
    q.format_ = "hf_mxfp4";
    if (j.contains("modules_to_not_convert") && !j["modules_to_not_convert"].is_null()) {
      const Json& m = j["modules_to_not_convert"];
      if (!m.is_array())
        throw Error("[quant_config] " + where + ": modules_to_not_convert must be a list");
      for (const auto& p : m) {
        if (!p.is_string())
          throw Error("[quant_config] " + where + ": modules_to_not_convert holds a non-string");
        q.not_converted_.push_back(p.get<std::string>());
      }
    }
    return q;
  }

  q.default_ = parse_spec(j, std::nullopt, where);
  q.format_ = "mlx";
  for (const auto& [k, v] : j.items()) {
    if (is_spec_key(k)) continue;
    if (v.is_boolean()) {
      q.overrides_[k] = v.get<bool>() ? q.default_ : std::nullopt;
    } else if (v.is_object()) {
      q.overrides_[k] = parse_spec(v, q.default_, where + " module '" + k + "'");
    }
    // Other scalar entries (e.g. a "quant_method": "affine" tag) carry no override.
  }
  return q;
}

std::optional<QuantSpec> QuantConfig::spec_for(const std::string& path) const {
  if (!default_) return std::nullopt;
  auto it = overrides_.find(path);
  if (it != overrides_.end()) return it->second;
  for (const auto& p : not_converted_)
    if (matches_module(p, path)) return std::nullopt;
  return default_;
}

LinearWeights load_linear(const WeightStore& w, const std::string& path, const QuantConfig& qc) {
  auto fail = [&](const std::string& what) -> Error {
    return Error("[load_linear] module '" + path + "' in " + w.dir() + ": " + what);
  };
  auto need = [&](const std::string& name) {
    if (!w.contains(name)) throw fail("missing tensor '" + name + "'");
    return w.get(name);
  };
  auto dense = [&](const std::string& weight, const std::string& bias) {
    return LinearWeights{w.get(weight), std::nullopt, std::nullopt, w.get_if(bias), std::nullopt};
  };
  auto quantized = [&](const std::string& weight, const std::string& scales,
                       const std::string& bias, const QuantSpec& spec) {
    Array wq = need(weight);
    return LinearWeights{wq, need(scales), w.get_if(path + ".biases"), w.get_if(bias), spec};
  };

  LinearWeights out = [&] {
    if (w.contains(path + ".scales")) {
      if (!qc.quantized())
        throw fail("'" + path + ".scales' exists but config.json declares no quantization");
      auto spec = qc.spec_for(path);
      if (!spec) throw fail("'" + path + ".scales' exists but config.json marks it not quantized");
      return quantized(path + ".weight", path + ".scales", path + ".bias", *spec);
    }
    if (w.contains(path + "_blocks"))
      return quantized(path + "_blocks", path + "_scales", path + "_bias",
                       QuantSpec{32, 4, "mxfp4"});
    if (w.contains(path + ".weight")) return dense(path + ".weight", path + ".bias");
    if (w.contains(path)) return dense(path, path + "_bias");
    throw fail("no weights (looked for '" + path + ".weight', '" + path + "_blocks' and '" + path +
               "')");
  }();
  if (!out.quantized()) return out;

  // Codes, scales and biases must agree with each other and with the spec.
  const QuantSpec& s = *out.quant;
  const Array& wq = out.weight;
  const Array& sc = *out.scales;
  auto describe = [&] {
    return "codes " + std::string(wq.dtype().name()) + " " + shape_str(wq.shape()) + ", scales " +
           sc.dtype().name() + " " + shape_str(sc.shape());
  };
  bool blocks = wq.dtype() == uint8 && wq.ndim() == sc.ndim() + 1;
  int lead = sc.ndim() - 1;
  bool ok = sc.ndim() >= 2 && wq.ndim() >= 2;
  for (int i = 0; ok && i < lead; ++i) ok = wq.shape(i) == sc.shape(i);
  if (!ok) throw fail("codes and scales disagree: " + describe());
  int64_t k = sc.shape(-1) * s.group_size;
  if (s.mode == "affine") {
    if (wq.dtype() != uint32 || wq.ndim() != sc.ndim() || wq.shape(-1) * 32 != k * s.bits)
      throw fail("affine " + std::to_string(s.bits) + "-bit, group " +
                 std::to_string(s.group_size) + " does not fit " + describe());
    if (sc.dtype() != float16 && sc.dtype() != bfloat16 && sc.dtype() != float32)
      throw fail(std::string("scales must be float16, bfloat16 or float32, got ") +
                 sc.dtype().name());
    if (!out.biases) throw fail("affine quantization needs '" + path + ".biases'");
    if (out.biases->shape() != sc.shape() || out.biases->dtype() != sc.dtype())
      throw fail("biases " + std::string(out.biases->dtype().name()) + " " +
                 shape_str(out.biases->shape()) + " do not match " + describe());
  } else {
    bool fits = sc.dtype() == uint8 &&
                ((wq.dtype() == uint32 && wq.ndim() == sc.ndim() && wq.shape(-1) * 8 == k) ||
                 (wq.dtype() == uint8 && wq.ndim() == sc.ndim() && wq.shape(-1) * 2 == k) ||
                 (blocks && wq.shape(-2) == sc.shape(-1) && wq.shape(-1) == 16));
    if (!fits) throw fail("mxfp4 does not fit " + describe());
    if (out.biases) throw fail("mxfp4 has no biases, but '" + path + ".biases' exists");
  }
  return out;
}

}  // namespace lathe::io
