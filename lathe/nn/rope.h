// Rotary position embeddings with the frequency schedules of Hugging Face
// checkpoints (default, linear, dynamic NTK, llama3), computed as
// transformers computes them so that logits match its reference.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lathe/core/array.h"

namespace lathe::nn {

// One rotary embedding's parameters (transformers' rope_parameters entry).
struct RopeParams {
  std::string type = "default";  // default | linear | dynamic | llama3
  double theta = 10000.0;
  double factor = 1.0;
  double low_freq_factor = 1.0;              // llama3
  double high_freq_factor = 4.0;             // llama3
  int original_max_position_embeddings = 0;  // llama3
  double partial_rotary_factor = 1.0;
};

// The inverse frequencies [dims / 2] of `p` for a forward reaching `seq_len`
// positions (only dynamic NTK depends on it), with transformers' float32
// arithmetic, returned as doubles.
std::vector<double> rope_inv_freq(const RopeParams& p, int dims, int max_position_embeddings,
                                  int seq_len);

class RotaryEmbedding {
 public:
  RotaryEmbedding(const RopeParams& p, int head_dim, int max_position_embeddings);
  // Once per forward, with offset + T. Dynamic NTK rescales its base when the
  // positions pass max_position_embeddings and keeps the largest scale seen
  // until a forward falls back within the original length, as transformers'
  // dynamic_rope_update does.
  void prepare(int seq_len);
  // x [B, H, T, D] holding positions offset .. offset + T - 1, rotated in
  // halves (Llama/HF layout) over the first dims() features.
  Array operator()(const Array& x, int offset) const;
  // The offset as data (an integer scalar): decode steps whose position is data.
  Array operator()(const Array& x, const Array& offset) const;
  // Whether the frequencies stay the same for every forward up to seq_len
  // positions (dynamic NTK rescales past the original length).
  bool fixed_up_to(int seq_len) const {
    return p_.type != "dynamic" || (seq_len <= max_positions_ && max_seq_len_cached_ <= max_positions_);
  }
  int dims() const { return dims_; }
  // The frequencies array (1 / inv_freq, float64), kept across evals.
  const Array& freqs() const { return freqs_; }

 private:
  Array make_freqs(int seq_len) const;

  RopeParams p_;
  int dims_;
  int max_positions_;
  int max_seq_len_cached_;
  Array freqs_;
};

}  // namespace lathe::nn
