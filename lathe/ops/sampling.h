// Choosing tokens from logits on the logits' device: penalties, temperature, top-k, top-p,
// min-p and an inverse-CDF draw (or argmax) in one fused op, and its slow twin built from
// primitive ops. The engine's Sampler (lathe/engine/sampler.h) keeps the state they read.
#pragma once

#include <cstdint>
#include <optional>

#include "lathe/core/array.h"

namespace lathe::fast {

// The processors, in the order of transformers' logits processors and warpers:
//   1. repetition_penalty: for every token in the context (prompt_counts > 0 or
//      generated_counts > 0), a negative logit is multiplied by it, any other divided;
//   2. presence / frequency penalties (OpenAI): logit - presence * [generated > 0] -
//      frequency * generated;
//   3. temperature: logits / temperature; 0 is greedy: the argmax of the penalized logits
//      (the first one; a NaN wins, as argmax), and 4-7 are skipped;
//   4. top_k: keep the tokens whose logit is at least the k-th largest (0 = off);
//   5. top_p: keep the tokens whose probability mass strictly above them (among those
//      top-k kept) is below top_p (1 = off): transformers' ascending cumulative sum
//      `cum <= 1 - top_p` removal, with ties of the threshold kept and the most likely token
//      always kept;
//   6. min_p: keep the tokens whose probability is at least min_p times the largest (0 = off);
//   7. a draw from the softmax of what is kept, by inverting its cumulative distribution
//      (in token order) at the row's uniform u in [0, 1).
// Steps 1-3 and 6 are float32 arithmetic, as the twin's ops. The fused op weighs token i by
// exp(x_i - max x) in float32 (one fixed polynomial, the same bits on every device), turned
// into an integer: floor(w * 2^S) with S = 62 - bit_width(V). Masses are exact integer sums,
// so every device and thread split makes the same decisions, and the draw is the first token
// whose cumulative integer weight exceeds floor(floor(u * 2^24) * total / 2^24): token i has
// probability w_i / sum w within 2^-24 (as a float32 uniform allows); tokens below 2^-S of
// the largest weigh nothing. NaN logits are never drawn.
struct SamplingParams {
  float temperature = 1.0f;
  int64_t top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;

  bool greedy() const { return temperature == 0.0f; }
  bool uses_prompt_counts() const { return repetition_penalty != 1.0f; }
  bool uses_generated_counts() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
};

// The inputs of a sampling step besides the logits [B, V] (any floating dtype).
struct SamplingInputs {
  // float32 [B]: the uniforms of the draws; needed unless greedy.
  std::optional<Array> uniforms;
  // float32 [B, V]: how often each token is in the prompt (needed with a repetition
  // penalty) and how often it was generated (needed with any penalty).
  std::optional<Array> prompt_counts;
  std::optional<Array> generated_counts;
};

// int32 [B]: one token per row. Inputs must share the logits' device; bad shapes, dtypes or
// settings throw lathe::Error("[sample_tokens] ...").
Array sample_tokens(const Array& logits, const SamplingParams& params,
                    const SamplingInputs& inputs);

// counts (float32 [B, V]) plus one at (r, tokens[r]) for every row r: the generated counts
// the penalties read. In place when counts can be donated (the caller drops its handle), and
// without reading tokens back to the host; ids outside [0, V) are not counted.
Array count_tokens(const Array& counts, const Array& tokens);

// Slow twins made of primitive ops (where, topk, sort, softmax, cumsum, ...), the oracles of
// the fused op's tests. process_logits_reference: steps 1-6, float32 [B, V] with removed
// tokens at -inf (for greedy only the penalties). sample_tokens_reference: argmax or a draw
// from softmax(processed) by inverse CDF in float32 at the same uniforms.
Array process_logits_reference(const Array& logits, const SamplingParams& params,
                               const SamplingInputs& inputs);
Array sample_tokens_reference(const Array& logits, const SamplingParams& params,
                              const SamplingInputs& inputs);

}  // namespace lathe::fast
