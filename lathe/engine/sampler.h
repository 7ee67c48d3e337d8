// Choosing the next token from logits: penalties, temperature, top-k, top-p, min-p and a
// seeded categorical draw, all built from lathe ops so they run where the logits live.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lathe/core/array.h"

namespace lathe {

// The processors run in the order of transformers' logits processors and warpers:
//   1. repetition_penalty (transformers): for every token present in the context (prompt and
//      generated), a positive logit is divided by it, a negative one multiplied;
//   2. presence / frequency penalties (OpenAI): logit -= presence * [count > 0] +
//      frequency * count, where count is how often the token was *generated* so far;
//   3. temperature: logits / temperature; 0 means greedy (argmax of the penalized logits,
//      skipping 3-6);
//   4. top_k: keep the tokens whose logit is at least the k-th largest (0 = off);
//   5. top_p (transformers): sort ascending, remove the tokens whose cumulative probability
//      is <= 1 - top_p, always keeping the most likely one (1 = off);
//   6. min_p (transformers): remove tokens whose probability is below min_p times the largest
//      probability (0 = off);
//   7. a categorical draw from the softmax of what remains (inverse CDF at one float32
//      uniform per row: classes below ~2^-24 of the total are drawn at a quantized rate).
// Removed tokens get logit -inf. Tokens tied with the threshold of top-p are kept.
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
// key each draw). Logits are [B, V] (or [V], one row); draws are int32 [B]. Nothing here
// reads values back to the host.
class Sampler {
 public:
  Sampler(const SamplerConfig& config, int vocab_size);

  // Starts a new generation: the context the repetition penalty sees (one list of ids per
  // row), no generated tokens. Ids outside [0, vocab_size) throw.
  void reset(const std::vector<std::vector<int32_t>>& context);
  void reset(std::span<const int32_t> context);

  // Steps 1-6 above: float32 [B, V] with removed tokens at -inf (for greedy, only the
  // penalties are applied).
  Array process(const Array& logits) const;
  // The next token of each row; records it for the penalties and advances the key.
  Array sample(const Array& logits);
  // Records tokens chosen elsewhere (int32 [B]) for the penalties.
  void accept(const Array& tokens);

  // What must survive evals between steps (the key and the token counts): keep() or
  // async_eval() them along with the sampled token.
  std::vector<Array> state() const;
  const SamplerConfig& config() const { return config_; }
  bool greedy() const { return config_.temperature == 0.0; }

 private:
  Array as_rows(const Array& logits) const;
  Array apply_penalties(Array logits) const;
  Array apply_warpers(Array logits) const;
  bool uses_penalties() const;

  SamplerConfig config_;
  int vocab_size_;
  int batch_ = 0;
  Array key_;
  Array vocab_ids_;         // int32 [V], to turn drawn ids into one-hot counts
  Array context_counts_;    // float32 [B, V]: prompt and generated tokens
  Array generated_counts_;  // float32 [B, V]: generated tokens only
};

}  // namespace lathe
