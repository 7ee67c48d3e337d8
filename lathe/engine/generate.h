// Text generation: chunked prefill, then the canonical decode loop of ../shared/DESIGN.md
// (step n+1 is built and scheduled while step n evaluates), with EOS, stop strings and a
// token budget, streaming UTF-8-safe text as it is generated.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lathe/engine/sampler.h"
#include "lathe/models/model.h"
#include "lathe/text/tokenizer.h"

namespace lathe {

struct GenerateOptions {
  int max_tokens = 256;
  SamplerConfig sampler;
  // Generation ends before the first of these; it is not part of the text.
  std::vector<std::string> stop_strings;
  // Keep going past EOS ids (they are generated and counted like any token).
  bool ignore_eos = false;
  // Ids that end generation besides the tokenizer's special_tokens().eos_ids (the only ones
  // when there is no tokenizer).
  std::vector<int32_t> eos_ids;
  // Prompt positions per forward pass during prefill.
  int prefill_chunk = 2048;
  // On a CUDA GPU, decode steps replay a recorded CUDA graph (engine/decode_steps.h);
  // also off with the environment variable LATHE_CUDA_GRAPH=0.
  bool decode_graphs = true;
  // Positions the KV caches are made for; 0: prompt + max_tokens.
  int context_length = 0;
  // Whether special tokens (other than a final EOS, never shown) appear in the text.
  bool skip_special_tokens = true;
  // Each generated id as soon as it is known (EOS included).
  std::function<void(int32_t)> on_token;
  // Text as soon as it is final: whole UTF-8 characters, never a stop string. The pieces
  // concatenate to GenerationResult::text.
  std::function<void(std::string_view)> on_text;
  // Polled before each prefill chunk and after each generated id (a server's client that went
  // away): true ends generation at once with finish_reason "cancelled".
  std::function<bool()> cancelled;
};

struct GenerationTimings {
  double prefill_s = 0;  // from the first prompt chunk to the first generated id
  double decode_s = 0;   // from the first generated id to the last
  double ttft_s = 0;     // from the call to the first generated id
  double prefill_tokens_per_s(int prompt_tokens) const;
  double decode_tokens_per_s(int generated_tokens) const;
};

struct GenerationResult {
  std::vector<int32_t> ids;   // generated ids (an ending EOS included, as transformers)
  std::string text;           // decoded, without EOS or stop string
  std::string finish_reason;  // "stop" (EOS or stop string), "length" or "cancelled"
  int prompt_tokens = 0;
  int reused_tokens = 0;  // prompt positions already in the caches (Generator), not recomputed
  int generated_tokens = 0;
  GenerationTimings timings;
};

// Generation that keeps the model's KV caches between calls: when the caches hold a proper
// prefix of the next prompt (a conversation going on), only the rest of the prompt is
// prefilled; any other prompt starts over in the same buffers.
class Generator {
 public:
  // tokenizer may be null (ids only). context_length: the cache size in positions; 0 sizes
  // the caches for the first call's prompt + max_tokens (later calls must fit in that).
  Generator(LanguageModel& model, const text::Tokenizer* tokenizer, int context_length = 0);
  // As generate() below; options.context_length is ignored (the constructor's counts).
  GenerationResult generate(std::span<const int32_t> prompt_ids, const GenerateOptions& options);
  // Forgets the cached conversation.
  void reset();
  // The ids whose keys and values the caches hold.
  const std::vector<int32_t>& cached_ids() const { return cached_; }
  int context_length() const { return context_; }

 private:
  LanguageModel& model_;
  const text::Tokenizer* tokenizer_;
  int context_length_;
  int context_ = 0;
  KVCaches caches_;
  std::vector<int32_t> cached_;
};

// Generates after prompt_ids (batch 1). The model's caches are made here and dropped at the
// end. Invalid options or an empty prompt throw lathe::Error("[generate] ...").
GenerationResult generate(LanguageModel& model, const text::Tokenizer& tokenizer,
                          std::span<const int32_t> prompt_ids, const GenerateOptions& options);
// Without a tokenizer: ids only (no text, stop strings not allowed), EOS from options.eos_ids.
GenerationResult generate(LanguageModel& model, std::span<const int32_t> prompt_ids,
                          const GenerateOptions& options);

// The options' problems, as lathe::Error("[generate] ...").
void validate(const GenerateOptions& options);

}  // namespace lathe
