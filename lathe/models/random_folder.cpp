// Random-weight checkpoints (see random_folder.h). The tensor lists follow
// transformers' modeling_llama / qwen2 / qwen3 / gemma3 state dicts; values are
// written tensor by tensor so that a multi-gigabyte folder needs little memory.
#include "lathe/models/random_folder.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "lathe/core/half.h"
#include "lathe/io/json_file.h"
#include "lathe/io/safetensors_header.h"
#include "lathe/models/config.h"

namespace lathe {

namespace {

namespace fs = std::filesystem;
using Init = WeightSpec::Init;

struct Arch {
  ConfigDefaults defaults;
  bool gemma = false;     // four norms per layer, q/k norms, (1 + w) norms
  bool qk_norm = false;   // qwen3
  bool qkv_bias = false;  // qwen2
  std::string prefix = "model.";
};

// transformers' config-class defaults for the fields that decide shapes.
Arch arch_for(const std::string& model_type, const std::string& path) {
  Arch a;
  if (model_type == "llama" || model_type == "mistral") return a;
  if (model_type == "qwen2" || model_type == "qwen3") {
    a.defaults.qwen_sliding = true;
    a.defaults.sliding_window = 4096;
    if (model_type == "qwen3") {
      a.defaults.head_dim = 128;
      a.qk_norm = true;
    } else {
      a.qkv_bias = true;
    }
    return a;
  }
  if (model_type == "gemma3_text" || model_type == "gemma3") {
    ConfigDefaults& d = a.defaults;
    d.vocab_size = 262208;
    d.num_attention_heads = 8;
    d.num_key_value_heads = 4;
    d.head_dim = 256;
    d.tie_word_embeddings = true;
    d.hidden_act = "gelu_pytorch_tanh";
    d.gemma_layers = true;
    d.sliding_window = 4096;
    d.query_pre_attn_scalar = 256;
    a.gemma = true;
    a.qk_norm = true;
    // transformers saves Gemma3ForConditionalGeneration under its original names.
    if (model_type == "gemma3") a.prefix = "language_model.model.";
    return a;
  }
  throw Error("[make_random] " + path + ": unsupported model_type '" + model_type +
              "' (supported: llama, mistral, qwen2, qwen3, gemma3_text, gemma3)");
}

void add_linear(std::vector<WeightSpec>& out, const std::string& name, int64_t in, int64_t outf,
                bool bias) {
  out.push_back({name + ".weight", {outf, in}, Init::matrix});
  if (bias) out.push_back({name + ".bias", {outf}, Init::matrix});
}

// FNV-1a: the same seed for a name on every platform (std::hash is not specified).
uint64_t name_hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

// splitmix64: a fast, well-mixed stream per tensor (seeded by the name).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// Values of one tensor in `dtype`, `count` at a time.
void fill(const WeightSpec& w, Dtype dtype, Rng& rng, float std, int64_t count, char* dst) {
  // Uniform on [-a, a] has standard deviation a / sqrt(3).
  const float a = std * std::sqrt(3.0f);
  const float base = w.init == Init::ones ? 1.0f : 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    float v = base;
    if (w.init == Init::matrix) {
      // The top 24 bits give a uniform in [0, 1).
      float u = static_cast<float>(rng.next() >> 40) * (1.0f / 16777216.0f);
      v = a * (2.0f * u - 1.0f);
    }
    if (dtype == bfloat16) {
      reinterpret_cast<bfloat16_t*>(dst)[i] = bfloat16_t(v);
    } else if (dtype == float16) {
      reinterpret_cast<float16_t*>(dst)[i] = float16_t(v);
    } else {
      reinterpret_cast<float*>(dst)[i] = v;
    }
  }
}

io::StDtype st_dtype(Dtype d) {
  if (d == bfloat16) return io::StDtype::BF16;
  if (d == float16) return io::StDtype::F16;
  return io::StDtype::F32;
}

}  // namespace

std::vector<WeightSpec> checkpoint_weights(const std::string& dir) {
  const std::string path = dir + "/config.json";
  nlohmann::json top = io::read_json_file(path, "make_random");
  std::string model_type =
      top.contains("model_type") && top["model_type"].is_string() ? top["model_type"] : "";
  Arch arch = arch_for(model_type, path);
  TextConfig c;
  try {
    c = read_text_config(dir, arch.defaults);
  } catch (const Error& e) {
    // The loader's messages name the file and field; say which command failed.
    std::string what = e.what();
    const std::string op = "[load_model] ";
    if (what.rfind(op, 0) == 0) what.erase(0, op.size());
    throw Error("[make_random] " + what);
  }
  const int64_t h = c.hidden_size, hd = c.head_dim;
  const int64_t q_out = int64_t(c.num_attention_heads) * hd;
  const int64_t kv_out = int64_t(c.num_key_value_heads) * hd;
  // Gemma's norms scale by (1 + w): zero weights are the identity, as ones are for Llama.
  const Init norm_init = arch.gemma ? Init::zeros : Init::ones;
  const std::string& p = arch.prefix;
  std::vector<WeightSpec> out;
  out.push_back({p + "embed_tokens.weight", {c.vocab_size, h}, Init::matrix});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = p + "layers." + std::to_string(i);
    out.push_back({l + ".input_layernorm.weight", {h}, norm_init});
    const bool qkv_bias = c.attention_bias || arch.qkv_bias;
    add_linear(out, l + ".self_attn.q_proj", h, q_out, qkv_bias);
    add_linear(out, l + ".self_attn.k_proj", h, kv_out, qkv_bias);
    add_linear(out, l + ".self_attn.v_proj", h, kv_out, qkv_bias);
    add_linear(out, l + ".self_attn.o_proj", q_out, h, c.attention_bias);
    if (arch.qk_norm) {
      out.push_back({l + ".self_attn.q_norm.weight", {hd}, norm_init});
      out.push_back({l + ".self_attn.k_norm.weight", {hd}, norm_init});
    }
    out.push_back({l + ".post_attention_layernorm.weight", {h}, norm_init});
    if (arch.gemma) {
      out.push_back({l + ".pre_feedforward_layernorm.weight", {h}, norm_init});
      out.push_back({l + ".post_feedforward_layernorm.weight", {h}, norm_init});
    }
    add_linear(out, l + ".mlp.gate_proj", h, c.intermediate_size, c.mlp_bias);
    add_linear(out, l + ".mlp.up_proj", h, c.intermediate_size, c.mlp_bias);
    add_linear(out, l + ".mlp.down_proj", c.intermediate_size, h, c.mlp_bias);
  }
  out.push_back({p + "norm.weight", {h}, norm_init});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}, Init::matrix});
  return out;
}

uint64_t write_random_folder(const std::string& config_path, const std::string& out_dir,
                             const RandomFolderOptions& opts) {
  if (opts.dtype != bfloat16 && opts.dtype != float16 && opts.dtype != float32) {
    throw Error(std::string("[make_random] dtype must be float32, float16 or bfloat16, got ") +
                opts.dtype.name());
  }
  nlohmann::json config = io::read_json_file(config_path, "make_random");
  if (!config.is_object()) throw Error("[make_random] " + config_path + ": not a JSON object");
  const char* dtype_name = opts.dtype == bfloat16  ? "bfloat16"
                           : opts.dtype == float16 ? "float16"
                                                   : "float32";
  config["torch_dtype"] = dtype_name;
  if (config.contains("text_config") && config["text_config"].is_object()) {
    config["text_config"]["torch_dtype"] = dtype_name;
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error("[make_random] cannot create " + out_dir + ": " + ec.message());
  io::write_json_file(out_dir + "/config.json", config, "make_random");
  std::vector<WeightSpec> weights = checkpoint_weights(out_dir);

  std::vector<io::StTensor> infos;
  uint64_t at = 0;
  const size_t item = opts.dtype.size();
  for (const WeightSpec& w : weights) {
    uint64_t n = 1;
    for (int64_t d : w.shape) n *= static_cast<uint64_t>(d);
    infos.push_back(
        {w.name, st_dtype(opts.dtype), std::vector<int64_t>(w.shape), at, at + n * item});
    at += n * item;
  }
  const std::string header = io::serialize_safetensors_header(infos, {{"format", "pt"}});
  const std::string path = out_dir + "/model.safetensors", tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("[make_random] cannot write " + tmp);
  auto fail = [&] {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw Error("[make_random] writing " + path + " failed (disk full?)");
  };
  if (std::fwrite(header.data(), 1, header.size(), f) != header.size()) fail();
  constexpr int64_t kChunk = 1 << 20;
  std::vector<char> buf(kChunk * item);
  for (size_t t = 0; t < weights.size(); ++t) {
    Rng rng{opts.seed * 0x9E3779B97F4A7C15ull ^ name_hash(weights[t].name)};
    int64_t left = static_cast<int64_t>((infos[t].end - infos[t].begin) / item);
    while (left > 0) {
      int64_t n = std::min(left, kChunk);
      fill(weights[t], opts.dtype, rng, opts.std, n, buf.data());
      if (std::fwrite(buf.data(), item, n, f) != static_cast<size_t>(n)) fail();
      left -= n;
    }
  }
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    throw Error("[make_random] writing " + path + " failed");
  }
  fs::rename(tmp, path, ec);
  if (ec) throw Error("[make_random] cannot move " + tmp + " to " + path + ": " + ec.message());
  return at;
}

}  // namespace lathe
