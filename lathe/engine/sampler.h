// Choosing the next token from logits: penalties, temperature, top-k, top-p, min-p and a
// seeded categorical draw, on the device where the logits live.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lathe/core/array.h"
#include "lathe/ops/sampling.h"

namespace lathe {

// The settings of lathe::fast::sample_tokens (lathe/ops/sampling.h: the processors run in the
// order of transformers' logits processors and warpers, then a draw); temperature 0 is greedy.
// repetition_penalty sees the prompt and the generated tokens, presence and frequency only
// the generated ones.
struct SamplerConfig {
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  // Unset: a nondeterministic seed.
  std::optional<uint64_t> seed;
};

// Throws lathe::Error("[sampler] ...") naming the first out-of-range setting.
void validate(const SamplerConfig& config);

// A sampler for one generation (it counts tokens for the penalties and advances its random
// key each draw). Logits are [B, V] (or [V], one row); draws are int32 [B]. Everything stays
// on the logits' device: the key and the counts move there once (at the first step), and a
// step is one fused op (plus the key split and the uniforms, and count_tokens of the drawn ids
// into the counts, in place, when penalties are on), so it can be scheduled with the next
// forward and the sampled ids are all that comes back to the host.
class Sampler {
 public:
  Sampler(const SamplerConfig& config, int vocab_size);

  // Starts a new generation: the context the repetition penalty sees (one list of ids per
  // row), no generated tokens. Ids outside [0, vocab_size) throw.
  void reset(const std::vector<std::vector<int32_t>>& context);
  void reset(std::span<const int32_t> context);

  // The next token of each row; records it for the penalties and advances the key.
  Array sample(const Array& logits);
  // The same draw (same key, same uniforms) by the slow twin made of primitive ops.
  Array sample_reference(const Array& logits);
  // Steps 1-6 by the slow twin: float32 [B, V] with removed tokens at -inf (for greedy, only
  // the penalties are applied).
  Array process(const Array& logits) const;
  // Records tokens chosen elsewhere (integer [B]) for the penalties.
  void accept(const Array& tokens);

  // What must survive evals between steps (the key and the generated counts): keep() or
  // async_eval() them along with the sampled token.
  std::vector<Array> state() const;
  const SamplerConfig& config() const { return config_; }
  bool greedy() const { return config_.temperature == 0.0; }

 private:
  Array as_rows(const Array& logits) const;
  // Moves the state to device d (once: later calls find it there).
  void place(Device d);
  // Splits the key: the uniforms of this step's draws, [B].
  Array next_uniforms(int64_t rows);
  fast::SamplingInputs inputs(std::optional<Array> uniforms) const;
  Array step(const Array& logits, bool reference);

  SamplerConfig config_;
  fast::SamplingParams params_;
  int vocab_size_;
  int batch_ = 0;
  Array key_;
  // float32 [B, V]: how often each token is in the prompt / was generated (penalties only).
  std::optional<Array> prompt_counts_, generated_counts_;
};

}  // namespace lathe
