// The sampler: logits processors and warpers as lathe ops, a split-per-draw random key.
#include "lathe/engine/sampler.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "lathe/core/transforms.h"
#include "lathe/ops/creation.h"
#include "lathe/ops/device.h"
#include "lathe/ops/elementwise.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/random.h"
#include "lathe/ops/reduce.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/sort.h"

namespace lathe {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error("[sampler] " + msg); }

std::string num(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

const float kNegInf = -std::numeric_limits<float>::infinity();

// A fresh nondeterministic seed for configs without one.
uint64_t random_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) | rd();
}

// One class per row of logits (removed ones at -inf), by inverting the cumulative
// distribution at a uniform draw: the first index whose cumulative probability exceeds
// u * total. Zero-probability classes can never be that index (their cumulative value
// equals the previous one), and u * total < total keeps the index in range. Four float32
// passes over the row; Gumbel-max (random::categorical) needs two float64 logarithms per
// class, which cost more than the forward pass of a small model at a large vocabulary.
Array draw(const Array& logits, const Array& key) {
  int64_t v = logits.shape(1);
  Array cum = cumsum(softmax(logits, 1), 1);
  Array total = slice_axis(cum, 1, v - 1, v);
  Array u = random::uniform({logits.shape(0), 1}, float32, key);
  return astype(sum(cum <= u * total, 1), int32);
}

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
      key_(random::key(config.seed ? *config.seed : random_seed())),
      vocab_ids_(arange(vocab_size, int32)),
      context_counts_(0.0f),
      generated_counts_(0.0f) {
  validate(config_);
  if (vocab_size <= 0) fail("vocab_size must be positive, got " + std::to_string(vocab_size));
  keep(key_, vocab_ids_);
}

bool Sampler::uses_penalties() const {
  return config_.repetition_penalty != 1.0 || config_.presence_penalty != 0.0 ||
         config_.frequency_penalty != 0.0;
}

void Sampler::reset(std::span<const int32_t> context) {
  reset(std::vector<std::vector<int32_t>>{{context.begin(), context.end()}});
}

void Sampler::reset(const std::vector<std::vector<int32_t>>& context) {
  if (context.empty()) fail("reset needs at least one row of context");
  batch_ = static_cast<int>(context.size());
  if (!uses_penalties()) return;
  size_t v = static_cast<size_t>(vocab_size_);
  std::vector<float> counts(context.size() * v, 0.0f);
  for (size_t r = 0; r < context.size(); ++r) {
    for (int32_t id : context[r]) {
      if (id < 0 || id >= vocab_size_)
        fail("context token id " + std::to_string(id) + " is outside the vocabulary [0, " +
             std::to_string(vocab_size_) + ")");
      counts[r * v + static_cast<size_t>(id)] += 1.0f;
    }
  }
  context_counts_ = array(counts, {batch_, vocab_size_});
  generated_counts_ = zeros({batch_, vocab_size_}, float32);
  keep(context_counts_, generated_counts_);
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
  if (uses_penalties() && batch_ != 0 && rows.shape(0) != batch_)
    fail("logits have " + std::to_string(rows.shape(0)) + " rows but reset() was given " +
         std::to_string(batch_));
  // Plain greedy decoding (argmax) stays on the logits' device. The other samplers keep their
  // state (random key, penalty counts) on the host and need sort/topk/random, which have no
  // CUDA kernels yet, so they read the rows back: one row of floats per step.
  if (rows.device() != Device::cpu && (!greedy() || uses_penalties()))
    rows = to_device(rows, Device::cpu);
  return rows.dtype() == float32 ? rows : astype(rows, float32);
}

Array Sampler::apply_penalties(Array l) const {
  if (config_.repetition_penalty != 1.0) {
    float r = static_cast<float>(config_.repetition_penalty);
    Array penalized = where(l < 0.0f, l * r, l / r);
    l = where(context_counts_ > 0.0f, penalized, l);
  }
  if (config_.presence_penalty != 0.0 || config_.frequency_penalty != 0.0) {
    Array present = astype(generated_counts_ > 0.0f, float32);
    l = l - present * static_cast<float>(config_.presence_penalty) -
        generated_counts_ * static_cast<float>(config_.frequency_penalty);
  }
  return l;
}

Array Sampler::apply_warpers(Array l) const {
  if (config_.temperature != 1.0) l = l / static_cast<float>(config_.temperature);
  int64_t v = vocab_size_;
  // Ascending values the top-p cut is computed over: the k kept by top-k when it is on (a
  // reversed topk, already sorted), else the whole row.
  std::optional<Array> ascending;
  if (config_.top_k > 0 && config_.top_k < v) {
    int64_t k = config_.top_k;
    Array top = topk(l, k, 1);  // [B, k], descending
    Array kth = slice_axis(top, 1, k - 1, k);
    l = where(l < kth, kNegInf, l);
    if (config_.top_p < 1.0) ascending = slice_axis(top, 1, k - 1, -k - 1, -1);
  }
  if (config_.top_p < 1.0) {
    Array a = ascending ? *ascending : sort(l, 1);
    int64_t n = a.shape(1);
    Array cum = cumsum(softmax(a, 1), 1);
    Array removed = sum(cum <= static_cast<float>(1.0 - config_.top_p), 1, true);
    removed = minimum(removed, Array(static_cast<int>(n - 1)));
    Array threshold = take_along_axis(a, removed, 1);  // the smallest kept logit
    l = where(l < threshold, kNegInf, l);
  }
  if (config_.min_p > 0.0) {
    Array threshold = max(l, 1, true) + static_cast<float>(std::log(config_.min_p));
    l = where(l < threshold, kNegInf, l);
  }
  return l;
}

Array Sampler::process(const Array& logits) const {
  Array l = apply_penalties(as_rows(logits));
  return greedy() ? l : apply_warpers(l);
}

Array Sampler::sample(const Array& logits) {
  Array rows = as_rows(logits);
  if (uses_penalties() && batch_ == 0) {
    reset(std::vector<std::vector<int32_t>>(static_cast<size_t>(rows.shape(0))));
  }
  Array tokens(0);
  if (greedy()) {
    tokens = astype(argmax(apply_penalties(rows), 1), int32);
  } else {
    Array keys = random::split(key_, 2);
    Array draw_key = random::key_at(keys, 1);
    key_ = random::key_at(keys, 0);
    keep(key_);
    tokens = draw(apply_warpers(apply_penalties(rows)), draw_key);
  }
  accept(tokens);
  return tokens;
}

void Sampler::accept(const Array& tokens) {
  if (!uses_penalties()) return;
  tokens.check_valid("sampler");
  if (tokens.ndim() != 1 || tokens.shape(0) != batch_)
    fail("accept() needs int32 [" + std::to_string(batch_) + "] tokens, got shape " +
         shape_str(tokens.shape()));
  Array one_hot = astype(equal(reshape(tokens, {batch_, 1}), vocab_ids_), float32);
  context_counts_ = context_counts_ + one_hot;
  generated_counts_ = generated_counts_ + one_hot;
  keep(context_counts_, generated_counts_);
}

std::vector<Array> Sampler::state() const {
  std::vector<Array> s{key_};
  if (uses_penalties() && batch_ != 0) {
    s.push_back(context_counts_);
    s.push_back(generated_counts_);
  }
  return s;
}

}  // namespace lathe
