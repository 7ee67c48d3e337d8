// Tiny model folders and their float64 reference forward (see tiny_models.h).
#include "tiny_models.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "lathe/io/safetensors.h"

namespace lathe::testing {

namespace {

using nlohmann::json;
using Matrix = std::vector<std::vector<double>>;  // [rows][cols]

bool layer_is_sliding(const TinySpec& s, int i) { return !s.sliding.empty() && s.sliding[i]; }

json rope_dict(const TinySpec& s, bool full) {
  json r = json::object();
  if (full && !s.rope_scaling.is_null()) r = s.rope_scaling;
  if (!r.contains("rope_type")) r["rope_type"] = "default";
  r["rope_theta"] = full ? s.theta : s.local_theta;
  return r;
}

Matrix to_matrix(const Host& h) {
  const int64_t rows = h.shape[0], cols = h.shape.size() > 1 ? h.shape[1] : 1;
  Matrix m(rows, std::vector<double>(cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m[r][c] = h[r * cols + c];
  return m;
}

// x [T][in] @ W^T (+ b) for W [out, in].
Matrix linear(const Matrix& x, const Host& w, const Host* b = nullptr) {
  const int64_t out = w.shape[0], in = w.shape[1];
  Matrix y(x.size(), std::vector<double>(out));
  for (size_t t = 0; t < x.size(); ++t)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b ? (*b)[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += x[t][i] * w[o * in + i];
      y[t][o] = acc;
    }
  return y;
}

// RMSNorm over each row (or each `group`-sized piece of a row): x / rms * w,
// or * (1 + w) for Gemma.
void rms_norm(Matrix& x, const Host& w, double eps, bool gemma, int64_t group = 0) {
  for (auto& row : x) {
    const int64_t n = group ? group : static_cast<int64_t>(row.size());
    for (size_t start = 0; start < row.size(); start += n) {
      double ss = 0;
      for (int64_t i = 0; i < n; ++i) ss += row[start + i] * row[start + i];
      const double inv = 1.0 / std::sqrt(ss / n + eps);
      for (int64_t i = 0; i < n; ++i) {
        row[start + i] *= inv * (gemma ? 1.0 + w[i] : w[i]);
      }
    }
  }
}

std::vector<double> inv_freq(const json& rope, double theta, int dims, int max_positions,
                             int seq_len) {
  const std::string type =
      rope.is_null() ? "default" : rope.value("rope_type", rope.value("type", "default"));
  double base = theta;
  const double factor = rope.is_null() ? 1.0 : rope.value("factor", 1.0);
  if (type == "dynamic" && seq_len > max_positions) {
    base *= std::pow(factor * seq_len / max_positions - (factor - 1), dims / (dims - 2.0));
  }
  std::vector<double> f(dims / 2);
  for (int i = 0; i < dims / 2; ++i) f[i] = std::pow(base, -2.0 * i / dims);
  if (type == "linear") {
    for (double& x : f) x /= factor;
  } else if (type == "llama3") {
    const double low = rope["low_freq_factor"], high = rope["high_freq_factor"];
    const double old_len = rope.value("original_max_position_embeddings", max_positions);
    for (double& x : f) {
      const double wavelen = 2 * M_PI / x;
      if (wavelen < old_len / high) continue;
      if (wavelen > old_len / low) {
        x /= factor;
      } else {
        const double smooth = (old_len / wavelen - low) / (high - low);
        x = (1 - smooth) * x / factor + smooth * x;
      }
    }
  }
  return f;
}

// Rotates each head of x [T][heads * d] in halves, position t with f[t].
void apply_rope(Matrix& x, int d, const std::vector<std::vector<double>>& freqs) {
  const int half = d / 2;
  for (size_t t = 0; t < x.size(); ++t) {
    const std::vector<double>& f = freqs[t];
    for (size_t h = 0; h < x[t].size() / d; ++h) {
      double* v = x[t].data() + h * d;
      for (int i = 0; i < half; ++i) {
        const double a = t * f[i], c = std::cos(a), s = std::sin(a);
        const double x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c - x2 * s;
        v[i + half] = x2 * c + x1 * s;
      }
    }
  }
}

Matrix attention(const Matrix& q, const Matrix& k, const Matrix& v, const TinySpec& s, int window,
                 double scale) {
  const int64_t t_len = q.size(), d = s.head_dim, group = s.heads / s.kv_heads;
  Matrix out(t_len, std::vector<double>(s.heads * d));
  for (int64_t h = 0; h < s.heads; ++h) {
    const int64_t kv = h / group;
    for (int64_t p = 0; p < t_len; ++p) {
      const int64_t lo = window > 0 ? std::max<int64_t>(0, p - window + 1) : 0;
      std::vector<double> w;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = lo; j <= p; ++j) {
        double acc = 0;
        for (int64_t i = 0; i < d; ++i) acc += q[p][h * d + i] * k[j][kv * d + i];
        acc *= scale;
        if (s.attn_softcap) acc = std::tanh(acc / *s.attn_softcap) * *s.attn_softcap;
        w.push_back(acc);
        mx = std::max(mx, acc);
      }
      double z = 0;
      for (double& x : w) z += (x = std::exp(x - mx));
      for (int64_t i = 0; i < d; ++i) {
        double acc = 0;
        for (int64_t j = lo; j <= p; ++j) acc += w[j - lo] / z * v[j][kv * d + i];
        out[p][h * d + i] = acc;
      }
    }
  }
  return out;
}

double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

}  // namespace

json tiny_config(const TinySpec& s) {
  json c;
  c["model_type"] = s.model_type == "gemma3" ? "gemma3_text" : s.model_type;
  c["vocab_size"] = s.vocab;
  c["hidden_size"] = s.hidden;
  c["intermediate_size"] = s.intermediate;
  c["num_hidden_layers"] = s.layers;
  c["num_attention_heads"] = s.heads;
  c["num_key_value_heads"] = s.kv_heads;
  if (s.explicit_head_dim || s.gemma() || s.model_type == "qwen3") c["head_dim"] = s.head_dim;
  c["rms_norm_eps"] = s.eps;
  c["max_position_embeddings"] = s.max_positions;
  c["tie_word_embeddings"] = s.tie;
  if (s.model_type == "llama") {
    c["attention_bias"] = s.attention_bias;
    c["mlp_bias"] = s.mlp_bias;
  }
  c["hidden_act"] = s.gemma() ? "gelu_pytorch_tanh" : "silu";
  if (s.gemma()) {
    c["hidden_activation"] = "gelu_pytorch_tanh";
    c["query_pre_attn_scalar"] = s.query_pre_attn_scalar;
    c["final_logit_softcapping"] = s.final_softcap ? json(*s.final_softcap) : json(nullptr);
    c["attn_logit_softcapping"] = s.attn_softcap ? json(*s.attn_softcap) : json(nullptr);
  }
  c["sliding_window"] = s.window > 0 ? json(s.window) : json(nullptr);
  if (s.model_type == "qwen2" || s.model_type == "qwen3") {
    c["use_sliding_window"] = s.window > 0;
    int first = s.layers;
    for (int i = s.layers - 1; i >= 0; --i) {
      if (layer_is_sliding(s, i)) first = i;
    }
    c["max_window_layers"] = first;
  }
  if (s.new_rope_form) {
    c["rope_parameters"] = s.gemma() ? json{{"full_attention", rope_dict(s, true)},
                                            {"sliding_attention", rope_dict(s, false)}}
                                     : rope_dict(s, true);
    if (s.gemma() || !s.sliding.empty()) {
      json types = json::array();
      for (int i = 0; i < s.layers; ++i) {
        types.push_back(layer_is_sliding(s, i) ? "sliding_attention" : "full_attention");
      }
      c["layer_types"] = types;
    }
  } else {
    c["rope_theta"] = s.theta;
    c["rope_scaling"] = s.rope_scaling;
    if (s.gemma()) {
      c["rope_local_base_freq"] = s.local_theta;
      // The old form only has a period: sliding must follow it.
      int pattern = 0;
      for (int i = 0; i < s.layers; ++i) {
        if (!layer_is_sliding(s, i)) {
          pattern = i + 1;
          break;
        }
      }
      c["sliding_window_pattern"] = pattern ? pattern : s.layers + 1;
    }
  }
  if (s.model_type == "gemma3") {
    json top;
    top["model_type"] = "gemma3";
    top["text_config"] = c;
    top["vision_config"] = {{"model_type", "siglip_vision_model"}};
    return top;
  }
  return c;
}

std::map<std::string, Host> tiny_weights(const TinySpec& s, uint64_t seed) {
  std::map<std::string, Host> w;
  const std::string m = s.weight_prefix;
  const int64_t h = s.hidden, d = s.head_dim, q = int64_t(s.heads) * d,
                kv = int64_t(s.kv_heads) * d;
  // Values exact in bfloat16, so both dtypes load the same numbers.
  auto rnd = [&](const Shape& shape, double scale) {
    return round_to(random_host(shape, float32, seed++, -scale, scale), bfloat16);
  };
  auto norm = [&](int64_t n) {
    Host x = rnd({n}, 0.2);
    if (!s.gemma()) {
      for (double& v : x.data) v += 1.0;
    }
    return round_to(x, bfloat16);
  };
  w[m + "embed_tokens.weight"] = rnd({s.vocab, h}, 1.0);
  for (int i = 0; i < s.layers; ++i) {
    const std::string p = m + "layers." + std::to_string(i) + ".";
    const bool qkv_bias = s.attention_bias || s.model_type == "qwen2";
    w[p + "self_attn.q_proj.weight"] = rnd({q, h}, 0.3);
    w[p + "self_attn.k_proj.weight"] = rnd({kv, h}, 0.3);
    w[p + "self_attn.v_proj.weight"] = rnd({kv, h}, 0.3);
    w[p + "self_attn.o_proj.weight"] = rnd({h, q}, 0.3);
    if (qkv_bias) {
      w[p + "self_attn.q_proj.bias"] = rnd({q}, 0.2);
      w[p + "self_attn.k_proj.bias"] = rnd({kv}, 0.2);
      w[p + "self_attn.v_proj.bias"] = rnd({kv}, 0.2);
    }
    if (s.attention_bias) w[p + "self_attn.o_proj.bias"] = rnd({h}, 0.2);
    if (s.model_type == "qwen3" || s.gemma()) {
      w[p + "self_attn.q_norm.weight"] = norm(d);
      w[p + "self_attn.k_norm.weight"] = norm(d);
    }
    w[p + "mlp.gate_proj.weight"] = rnd({s.intermediate, h}, 0.3);
    w[p + "mlp.up_proj.weight"] = rnd({s.intermediate, h}, 0.3);
    w[p + "mlp.down_proj.weight"] = rnd({h, s.intermediate}, 0.3);
    if (s.mlp_bias) {
      w[p + "mlp.gate_proj.bias"] = rnd({s.intermediate}, 0.2);
      w[p + "mlp.up_proj.bias"] = rnd({s.intermediate}, 0.2);
      w[p + "mlp.down_proj.bias"] = rnd({h}, 0.2);
    }
    w[p + "input_layernorm.weight"] = norm(h);
    w[p + "post_attention_layernorm.weight"] = norm(h);
    if (s.gemma()) {
      w[p + "pre_feedforward_layernorm.weight"] = norm(h);
      w[p + "post_feedforward_layernorm.weight"] = norm(h);
    }
  }
  w[m + "norm.weight"] = norm(h);
  if (!s.tie) w["lm_head.weight"] = rnd({s.vocab, h}, 0.5);
  return w;
}

std::string write_tiny_model(const TinySpec& s, const std::map<std::string, Host>& weights,
                             Dtype dtype, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("lathe_models_test_" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << tiny_config(s).dump(2);
  std::map<std::string, Array> arrays;
  for (const auto& [k, v] : weights) arrays.emplace(k, make_array(v, dtype));
  io::save_safetensors((dir / "model.safetensors").string(), arrays);
  return dir.string();
}

Host reference_logits(const TinySpec& s, const std::map<std::string, Host>& w,
                      const std::vector<int>& ids, const std::vector<int>& chunks) {
  const std::string m = s.weight_prefix;
  const int64_t t_len = ids.size(), h = s.hidden, d = s.head_dim;
  const bool g = s.gemma();
  const Host& embed = w.at(m + "embed_tokens.weight");
  // Gemma scales embeddings by sqrt(hidden), rounded to the model's float32.
  const double embed_scale = g ? static_cast<float>(std::sqrt(double(h))) : 1.0;
  Matrix x(t_len, std::vector<double>(h));
  for (int64_t t = 0; t < t_len; ++t)
    for (int64_t i = 0; i < h; ++i) x[t][i] = embed[ids[t] * h + i] * embed_scale;
  auto opt = [&](const std::string& name) { return w.count(name) ? &w.at(name) : nullptr; };

  for (int l = 0; l < s.layers; ++l) {
    const std::string p = m + "layers." + std::to_string(l) + ".";
    const bool sliding = layer_is_sliding(s, l);
    Matrix a = x;
    rms_norm(a, w.at(p + "input_layernorm.weight"), s.eps, g);
    Matrix q = linear(a, w.at(p + "self_attn.q_proj.weight"), opt(p + "self_attn.q_proj.bias"));
    Matrix k = linear(a, w.at(p + "self_attn.k_proj.weight"), opt(p + "self_attn.k_proj.bias"));
    Matrix v = linear(a, w.at(p + "self_attn.v_proj.weight"), opt(p + "self_attn.v_proj.bias"));
    if (w.count(p + "self_attn.q_norm.weight")) {
      rms_norm(q, w.at(p + "self_attn.q_norm.weight"), s.eps, g, d);
      rms_norm(k, w.at(p + "self_attn.k_norm.weight"), s.eps, g, d);
    }
    const bool local_rope = g && sliding;
    // Dynamic NTK: a position rotates with the length of the forward it came in.
    std::vector<std::vector<double>> f;
    int end = 0;
    for (int c : chunks.empty() ? std::vector<int>{int(t_len)} : chunks) {
      end += c;
      auto fc = inv_freq(local_rope ? json(nullptr) : s.rope_scaling,
                         local_rope ? s.local_theta : s.theta, d, s.max_positions, end);
      f.insert(f.end(), c, fc);
    }
    apply_rope(q, d, f);
    apply_rope(k, d, f);
    const double scale = 1.0 / std::sqrt(g ? s.query_pre_attn_scalar : double(d));
    Matrix o = attention(q, k, v, s, sliding ? s.window : 0, scale);
    o = linear(o, w.at(p + "self_attn.o_proj.weight"), opt(p + "self_attn.o_proj.bias"));
    if (g) rms_norm(o, w.at(p + "post_attention_layernorm.weight"), s.eps, true);
    for (int64_t t = 0; t < t_len; ++t)
      for (int64_t i = 0; i < h; ++i) x[t][i] += o[t][i];

    Matrix f_in = x;
    rms_norm(f_in,
             w.at(p + (g ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight")),
             s.eps, g);
    Matrix gate = linear(f_in, w.at(p + "mlp.gate_proj.weight"), opt(p + "mlp.gate_proj.bias"));
    Matrix up = linear(f_in, w.at(p + "mlp.up_proj.weight"), opt(p + "mlp.up_proj.bias"));
    for (size_t t = 0; t < gate.size(); ++t)
      for (size_t i = 0; i < gate[t].size(); ++i) {
        const double z = gate[t][i];
        gate[t][i] = (g ? gelu_tanh(z) : z / (1 + std::exp(-z))) * up[t][i];
      }
    Matrix down = linear(gate, w.at(p + "mlp.down_proj.weight"), opt(p + "mlp.down_proj.bias"));
    if (g) rms_norm(down, w.at(p + "post_feedforward_layernorm.weight"), s.eps, true);
    for (int64_t t = 0; t < t_len; ++t)
      for (int64_t i = 0; i < h; ++i) x[t][i] += down[t][i];
  }
  rms_norm(x, w.at(m + "norm.weight"), s.eps, g);
  Matrix logits = linear(x, s.tie ? embed : w.at("lm_head.weight"));
  Host out{{t_len, s.vocab}, {}};
  // transformers caps logits in Gemma3ForCausalLM, not in Gemma3ForConditionalGeneration.
  const bool cap = s.final_softcap && s.model_type != "gemma3";
  for (auto& row : logits)
    for (double v : row)
      out.data.push_back(cap ? std::tanh(v / *s.final_softcap) * *s.final_softcap : v);
  return out;
}

double max_rel_error(const Host& got, const Host& want) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / scale;
}

}  // namespace lathe::testing
