// The sampler: its settings, state (key, token counts) on the logits' device, and a step of
// lathe::fast::sample_tokens (or of its slow twin).
#include "lathe/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "lathe/core/transforms.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/device.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/random.h"
#include "lathe/ops/shape.h"

namespace lathe {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error("[sampler] " + msg); }

std::string num(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// A fresh nondeterministic seed for configs without one.
uint64_t random_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) | rd();
}

fast::SamplingParams params_of(const SamplerConfig& c) {
  fast::SamplingParams p;
  // A positive temperature stays positive in float32 (0 means greedy).
  p.temperature = c.temperature == 0.0 ? 0.0f
                                       : std::max(static_cast<float>(c.temperature),
                                                  std::numeric_limits<float>::min());
  p.top_k = c.top_k;
  p.top_p = c.top_p;
  p.min_p = c.min_p;
  p.repetition_penalty = static_cast<float>(c.repetition_penalty);
  p.presence_penalty = static_cast<float>(c.presence_penalty);
  p.frequency_penalty = static_cast<float>(c.frequency_penalty);
  return p;
}

Array on(Device d, const Array& a) { return a.device() == d ? a : to_device(a, d); }

}  // namespace

void validate(const SamplerConfig& c) {
  if (!std::isfinite(c.temperature) || c.temperature < 0)
    fail("temperature must be a finite number >= 0 (0 is greedy), got " + num(c.temperature));
  if (c.top_k < 0) fail("top_k must be >= 0 (0 turns it off), got " + std::to_string(c.top_k));
  if (!(c.top_p > 0 && c.top_p <= 1))
    fail("top_p must be in (0, 1] (1 turns it off), got " + num(c.top_p));
  if (!(c.min_p >= 0 && c.min_p <= 1))
    fail("min_p must be in [0, 1] (0 turns it off), got " + num(c.min_p));
  if (!std::isfinite(c.repetition_penalty) || c.repetition_penalty <= 0)
    fail("repetition_penalty must be a finite number > 0 (1 turns it off), got " +
         num(c.repetition_penalty));
  if (!std::isfinite(c.presence_penalty))
    fail("presence_penalty must be finite, got " + num(c.presence_penalty));
  if (!std::isfinite(c.frequency_penalty))
    fail("frequency_penalty must be finite, got " + num(c.frequency_penalty));
}

Sampler::Sampler(const SamplerConfig& config, int vocab_size)
    : config_(config),
      vocab_size_(vocab_size),
      key_(random::key(config.seed ? *config.seed : random_seed())) {
  validate(config_);
  if (vocab_size <= 0) fail("vocab_size must be positive, got " + std::to_string(vocab_size));
  params_ = params_of(config_);
  keep(key_);
}

void Sampler::reset(std::span<const int32_t> context) {
  reset(std::vector<std::vector<int32_t>>{{context.begin(), context.end()}});
}

void Sampler::reset(const std::vector<std::vector<int32_t>>& context) {
  if (context.empty()) fail("reset needs at least one row of context");
  batch_ = static_cast<int>(context.size());
  if (!params_.uses_generated_counts()) return;
  const Device d = key_.device();
  DeviceScope scope(d);
  const int64_t v = vocab_size_, b = batch_;
  if (params_.uses_prompt_counts()) {
    std::vector<float> counts(static_cast<size_t>(b * v), 0.0f);
    for (size_t r = 0; r < context.size(); ++r) {
      for (int32_t id : context[r]) {
        if (id < 0 || id >= vocab_size_)
          fail("context token id " + std::to_string(id) + " is outside the vocabulary [0, " +
               std::to_string(vocab_size_) + ")");
        counts[r * static_cast<size_t>(v) + static_cast<size_t>(id)] += 1.0f;
      }
    }
    prompt_counts_ = array(counts, {b, v});
    keep(*prompt_counts_);
  }
  generated_counts_ = zeros({b, v}, float32);
  keep(*generated_counts_);
}

void Sampler::place(Device d) {
  if (key_.device() == d) return;
  key_ = to_device(key_, d);
  keep(key_);
  for (auto* a : {&prompt_counts_, &generated_counts_}) {
    if (!*a) continue;
    **a = to_device(**a, d);
    keep(**a);
  }
}

Array Sampler::as_rows(const Array& logits) const {
  logits.check_valid("sampler");
  if (!logits.dtype().is_floating())
    fail(std::string("logits must be floating point, got ") + logits.dtype().name());
  if (logits.ndim() != 1 && logits.ndim() != 2)
    fail("logits must be [V] or [B, V], got shape " + shape_str(logits.shape()));
  if (logits.shape(-1) != vocab_size_)
    fail("logits have " + std::to_string(logits.shape(-1)) +
         " classes but the sampler was made for " + std::to_string(vocab_size_));
  Array rows = logits.ndim() == 1 ? reshape(logits, {1, vocab_size_}) : logits;
  if (params_.uses_generated_counts() && batch_ != 0 && rows.shape(0) != batch_)
    fail("logits have " + std::to_string(rows.shape(0)) + " rows but reset() was given " +
         std::to_string(batch_));
  return rows;
}

fast::SamplingInputs Sampler::inputs(std::optional<Array> uniforms) const {
  return {std::move(uniforms), prompt_counts_, generated_counts_};
}

Array Sampler::next_uniforms(int64_t rows) {
  Array keys = random::split(key_, 2);
  Array draw_key = random::key_at(keys, 1);
  key_ = random::key_at(keys, 0);
  keep(key_);
  return random::uniform({rows}, float32, draw_key);
}

Array Sampler::process(const Array& logits) const {
  Array rows = as_rows(logits);
  const Device d = rows.device();
  fast::SamplingInputs in;
  if (params_.uses_generated_counts()) {
    if (batch_ == 0) {
      DeviceScope scope(d);
      in.generated_counts = zeros({rows.shape(0), vocab_size_}, float32);
      in.prompt_counts = in.generated_counts;
    } else {
      in.generated_counts = on(d, *generated_counts_);
      if (prompt_counts_) in.prompt_counts = on(d, *prompt_counts_);
    }
  }
  return fast::process_logits_reference(rows, params_, in);
}

Array Sampler::step(const Array& logits, bool reference) {
  Array rows = as_rows(logits);
  place(rows.device());
  if (params_.uses_generated_counts() && batch_ == 0)
    reset(std::vector<std::vector<int32_t>>(static_cast<size_t>(rows.shape(0))));
  std::optional<Array> u;
  if (!params_.greedy()) u = next_uniforms(rows.shape(0));
  Array tokens = reference ? fast::sample_tokens_reference(rows, params_, inputs(u))
                           : fast::sample_tokens(rows, params_, inputs(u));
  accept(tokens);
  return tokens;
}

Array Sampler::sample(const Array& logits) { return step(logits, false); }

Array Sampler::sample_reference(const Array& logits) { return step(logits, true); }

void Sampler::accept(const Array& tokens) {
  if (!params_.uses_generated_counts()) return;
  tokens.check_valid("sampler");
  if (tokens.ndim() != 1 || tokens.shape(0) != batch_ || !tokens.dtype().is_integral())
    fail("accept() needs integer [" + std::to_string(batch_) + "] tokens, got " +
         tokens.dtype().name() + " " + shape_str(tokens.shape()));
  place(tokens.device());
  // Reassigned, so that the old counts' buffer is free to be updated in place.
  generated_counts_ = fast::count_tokens(*generated_counts_, tokens);
  keep(*generated_counts_);
}

std::vector<Array> Sampler::state() const {
  std::vector<Array> s{key_};
  if (generated_counts_) s.push_back(*generated_counts_);
  return s;
}

}  // namespace lathe
