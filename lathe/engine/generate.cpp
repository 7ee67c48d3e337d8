// The generation loop: prefill in chunks, then decode one token per step with the next step
// scheduled before the current id is read back, so the host work overlaps the device's.
#include "lathe/engine/generate.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "lathe/core/transforms.h"
#include "lathe/engine/decode_steps.h"
#include "lathe/engine/stop_strings.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/shape.h"
#include "lathe/text/streaming_detokenizer.h"

namespace lathe {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

[[noreturn]] void fail(const std::string& msg) { throw Error("[generate] " + msg); }

Array token_row(std::span<const int32_t> ids) {
  return array(std::vector<int32_t>(ids.begin(), ids.end()), {1, static_cast<int64_t>(ids.size())});
}

// logits [B, T, V] -> the last position, [B, V].
Array last_position(const Array& logits) {
  if (logits.ndim() != 3)
    fail("the model returned logits of shape " + shape_str(logits.shape()) +
         ", expected [B, T, vocab]");
  int64_t t = logits.shape(1);
  return reshape(slice_axis(logits, 1, t - 1, t), {logits.shape(0), logits.shape(2)});
}

void keep_state(const KVCaches& caches) {
  auto s = cache_state(caches);
  keep(s);
}

}  // namespace

Generator::Generator(LanguageModel& model, const text::Tokenizer* tokenizer, int context_length)
    : model_(model), tokenizer_(tokenizer), context_length_(context_length) {
  if (context_length < 0)
    fail("context_length must be >= 0 (0: prompt + max_tokens), got " +
         std::to_string(context_length));
}

void Generator::reset() {
  for (auto& c : caches_) c->reset();
  cached_.clear();
}

GenerationResult Generator::generate(std::span<const int32_t> prompt, const GenerateOptions& o) {
  LanguageModel& model = model_;
  const text::Tokenizer* tokenizer = tokenizer_;
  const auto start = Clock::now();
  validate(o);
  if (prompt.empty()) fail("the prompt is empty (generation needs at least one token)");
  if (!tokenizer && !o.stop_strings.empty()) fail("stop strings need a tokenizer");
  const int vocab = model.vocab_size();
  for (int32_t id : prompt)
    if (id < 0 || id >= vocab)
      fail("prompt token id " + std::to_string(id) + " is outside the model's vocabulary [0, " +
           std::to_string(vocab) + ")");
  const int p = static_cast<int>(prompt.size());
  if (caches_.empty()) {
    context_ = context_length_ > 0 ? context_length_ : p + o.max_tokens;
  }
  const int context = context_;
  if (context < p)
    fail("the prompt has " + std::to_string(p) + " tokens but the context length is " +
         std::to_string(context));
  // A step feeds the previous id to the model, so n ids fill p + n - 1 positions.
  const int budget = std::min(o.max_tokens, context - p + 1);

  GenerationResult r;
  r.prompt_tokens = p;
  r.finish_reason = "length";
  if (budget == 0) return r;

  std::vector<int32_t> eos;
  if (!o.ignore_eos) {
    if (tokenizer) eos = tokenizer->special_tokens().eos_ids;
    eos.insert(eos.end(), o.eos_ids.begin(), o.eos_ids.end());
  }
  Sampler sampler(o.sampler, vocab);
  sampler.reset(prompt);
  // Reuse the caches when they hold a proper prefix of this prompt (a conversation that
  // goes on); anything else starts over.
  size_t reused = 0;
  if (caches_.empty()) caches_ = model.make_caches(1, context);
  if (cached_.size() < prompt.size() && std::equal(cached_.begin(), cached_.end(), prompt.begin()))
    reused = cached_.size();
  if (reused == 0) {
    for (auto& c : caches_) c->reset();
  }
  // Cleared until the end: a failure midway leaves caches that nothing can reuse.
  cached_.clear();
  KVCaches& caches = caches_;
  r.reused_tokens = static_cast<int>(reused);
  StopStringMatcher stops(o.stop_strings);
  std::optional<text::StreamingDetokenizer> detok;
  if (tokenizer) detok.emplace(*tokenizer, o.skip_special_tokens);
  auto emit = [&](const std::string& s) {
    if (s.empty()) return;
    r.text += s;
    if (o.on_text) o.on_text(s);
  };

  // Prefill: every prompt token but the last, chunk by chunk, computing only the caches (the
  // logits of these positions are never needed, so they are never computed).
  const auto prefill_start = Clock::now();
  const size_t chunk = static_cast<size_t>(o.prefill_chunk);
  for (size_t i = reused; i + 1 < prompt.size(); i += chunk) {
    if (o.cancelled && o.cancelled()) {
      r.finish_reason = "cancelled";
      return r;
    }
    size_t n = std::min(chunk, prompt.size() - 1 - i);
    model.forward(token_row(prompt.subspan(i, n)), caches);
    auto state = cache_state(caches);
    eval(state);
  }
  Array token = sampler.sample(last_position(model.forward(token_row(prompt.last(1)), caches)));
  keep_state(caches);
  async_eval(token, sampler.state());

  Clock::time_point first{};
  DecodeSteps step(model, caches, o.decode_graphs);
  for (int n = 1;; ++n) {
    // The first id is read before the second step is scheduled: that step may record the
    // decode graph (a wait on the GPU), which is not part of the time to the first token.
    std::optional<int32_t> first_id;
    if (n == 1) first_id = token.item<int32_t>();
    std::optional<Array> next;
    if (n < budget) {
      Array logits = step(reshape(token, {1, 1}));
      next = sampler.sample(last_position(logits));
      keep_state(caches);
      async_eval(*next, sampler.state());
    }
    const int32_t id = first_id ? *first_id : token.item<int32_t>();
    if (n == 1) {
      first = Clock::now();
      r.timings.ttft_s = seconds(start, first);
      r.timings.prefill_s = seconds(prefill_start, first);
    }
    r.ids.push_back(id);
    if (o.on_token) o.on_token(id);
    if (std::find(eos.begin(), eos.end(), id) != eos.end()) {
      r.finish_reason = "stop";
      break;
    }
    if (detok) emit(stops.push(detok->step(id)));
    if (stops.stopped()) {
      r.finish_reason = "stop";
      break;
    }
    if (n >= budget) break;
    if (o.cancelled && o.cancelled()) {
      r.finish_reason = "cancelled";
      break;
    }
    Array old = token;
    token = *next;
    old.free();
  }
  if (detok && !stops.stopped() && r.finish_reason != "cancelled") {
    emit(stops.push(detok->finish()));
    if (stops.stopped()) r.finish_reason = "stop";
    emit(stops.flush());
  }
  // The step scheduled past an ending id is still running: finish it before the caches go.
  synchronize();
  // What the caches now hold: the prompt and every id fed back (the last id was fed too when
  // a step was scheduled past it).
  const size_t fed = r.ids.size() < static_cast<size_t>(budget) ? r.ids.size() : r.ids.size() - 1;
  cached_.assign(prompt.begin(), prompt.end());
  cached_.insert(cached_.end(), r.ids.begin(), r.ids.begin() + static_cast<std::ptrdiff_t>(fed));
  r.timings.decode_s = seconds(first, Clock::now());
  r.generated_tokens = static_cast<int>(r.ids.size());
  return r;
}

double GenerationTimings::prefill_tokens_per_s(int prompt_tokens) const {
  return prefill_s > 0 ? prompt_tokens / prefill_s : 0.0;
}

double GenerationTimings::decode_tokens_per_s(int generated_tokens) const {
  return decode_s > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_s : 0.0;
}

void validate(const GenerateOptions& o) {
  if (o.max_tokens < 0) fail("max_tokens must be >= 0, got " + std::to_string(o.max_tokens));
  if (o.prefill_chunk <= 0)
    fail("prefill_chunk must be positive, got " + std::to_string(o.prefill_chunk));
  if (o.context_length < 0)
    fail("context_length must be >= 0 (0: prompt + max_tokens), got " +
         std::to_string(o.context_length));
  for (const auto& s : o.stop_strings)
    if (s.empty()) fail("a stop string is empty");
  validate(o.sampler);
}

GenerationResult generate(LanguageModel& model, const text::Tokenizer& tokenizer,
                          std::span<const int32_t> prompt_ids, const GenerateOptions& options) {
  return Generator(model, &tokenizer, options.context_length).generate(prompt_ids, options);
}

GenerationResult generate(LanguageModel& model, std::span<const int32_t> prompt_ids,
                          const GenerateOptions& options) {
  return Generator(model, nullptr, options.context_length).generate(prompt_ids, options);
}

}  // namespace lathe
