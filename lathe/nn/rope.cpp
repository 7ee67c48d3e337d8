// Rotary frequency schedules (see rope.h). The float casts mirror the float32
// tensor arithmetic of transformers' modeling_rope_utils.
#include "lathe/nn/rope.h"

#include <cmath>

#include "lathe/core/transforms.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/fast.h"

namespace lathe::nn {

namespace {

std::vector<float> default_inv_freq(double base, int dims) {
  std::vector<float> inv(dims / 2);
  const float b = static_cast<float>(base);
  for (int i = 0; i < dims / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(dims);
    inv[i] = 1.0f / std::pow(b, exponent);
  }
  return inv;
}

void llama3_scale(std::vector<float>& inv, const RopeParams& p) {
  const float factor = static_cast<float>(p.factor);
  const float low = static_cast<float>(p.low_freq_factor);
  const float high = static_cast<float>(p.high_freq_factor);
  const float old_len = static_cast<float>(p.original_max_position_embeddings);
  const float low_freq_wavelen =
      static_cast<float>(p.original_max_position_embeddings / p.low_freq_factor);
  const float high_freq_wavelen =
      static_cast<float>(p.original_max_position_embeddings / p.high_freq_factor);
  const float two_pi = static_cast<float>(2 * M_PI);
  for (float& f : inv) {
    const float wavelen = two_pi / f;
    // Long wavelengths are divided by factor, short ones kept, the band
    // between them interpolated.
    const float scaled = wavelen > low_freq_wavelen ? f / factor : f;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    if (medium) {
      const float smooth = (old_len / wavelen - low) / (high - low);
      f = (1.0f - smooth) * scaled / factor + smooth * scaled;
    } else {
      f = scaled;
    }
  }
}

}  // namespace

std::vector<double> rope_inv_freq(const RopeParams& p, int dims, int max_position_embeddings,
                                  int seq_len) {
  double base = p.theta;
  if (p.type == "dynamic") {
    const double len = std::max(seq_len, max_position_embeddings);
    base = base * std::pow(p.factor * len / max_position_embeddings - (p.factor - 1),
                           static_cast<double>(dims) / (dims - 2));
  }
  std::vector<float> inv = default_inv_freq(base, dims);
  if (p.type == "linear") {
    for (float& f : inv) f /= static_cast<float>(p.factor);
  } else if (p.type == "llama3") {
    llama3_scale(inv, p);
  } else if (p.type != "default" && p.type != "dynamic") {
    throw Error("[rope] unsupported rope type '" + p.type + "'");
  }
  return {inv.begin(), inv.end()};
}

RotaryEmbedding::RotaryEmbedding(const RopeParams& p, int head_dim, int max_position_embeddings)
    : p_(p),
      dims_(static_cast<int>(head_dim * p.partial_rotary_factor)),
      max_positions_(max_position_embeddings),
      max_seq_len_cached_(max_position_embeddings),
      freqs_(make_freqs(max_position_embeddings)) {}

Array RotaryEmbedding::make_freqs(int seq_len) const {
  std::vector<double> inv = rope_inv_freq(p_, dims_, max_positions_, seq_len);
  std::vector<double> periods(inv.size());
  for (size_t i = 0; i < inv.size(); ++i) periods[i] = 1.0 / inv[i];
  Array f = array(periods, {static_cast<int64_t>(periods.size())});
  keep(f);
  return f;
}

void RotaryEmbedding::prepare(int seq_len) {
  if (p_.type != "dynamic") return;
  if (seq_len > max_seq_len_cached_) {
    freqs_ = make_freqs(seq_len);
    max_seq_len_cached_ = seq_len;
  } else if (seq_len < max_positions_ && max_seq_len_cached_ > max_positions_) {
    freqs_ = make_freqs(max_positions_);
    max_seq_len_cached_ = max_positions_;
  }
}

Array RotaryEmbedding::operator()(const Array& x, int offset) const {
  return fast::rope(x, dims_, false, std::nullopt, 1.0f, offset, freqs_);
}

Array RotaryEmbedding::operator()(const Array& x, const Array& offset) const {
  return fast::rope(x, dims_, false, std::nullopt, 1.0f, offset, freqs_);
}

}  // namespace lathe::nn
