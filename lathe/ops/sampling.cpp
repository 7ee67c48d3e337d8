// The sampling op's validation and its slow twin from primitive ops; the kernels are in
// lathe/backend/cpu/sampling.cpp and lathe/backend/cuda/sampling.cu.
#include "lathe/ops/sampling.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "lathe/ops/elementwise.h"
#include "lathe/ops/indexing.h"
#include "lathe/ops/reduce.h"
#include "lathe/ops/shape.h"
#include "lathe/ops/sort.h"
#include "lathe/ops/util.h"
#include "lathe/primitives/sampling.h"

namespace lathe::fast {

namespace {

std::string num(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

void check_params(const char* op, const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0)
    op_error(op,
             "temperature must be a finite number >= 0 (0 is greedy), got " + num(p.temperature));
  if (p.top_k < 0)
    op_error(op, "top_k must be >= 0 (0 turns it off), got " + std::to_string(p.top_k));
  if (!(p.top_p > 0 && p.top_p <= 1))
    op_error(op, "top_p must be in (0, 1] (1 turns it off), got " + num(p.top_p));
  if (!(p.min_p >= 0 && p.min_p <= 1))
    op_error(op, "min_p must be in [0, 1] (0 turns it off), got " + num(p.min_p));
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0)
    op_error(op, "repetition_penalty must be a finite number > 0 (1 turns it off), got " +
                     num(p.repetition_penalty));
  if (!std::isfinite(p.presence_penalty))
    op_error(op, "presence_penalty must be finite, got " + num(p.presence_penalty));
  if (!std::isfinite(p.frequency_penalty))
    op_error(op, "frequency_penalty must be finite, got " + num(p.frequency_penalty));
}

void check_float32(const char* op, const char* what, const Array& a, const Shape& shape) {
  a.check_valid(op);
  if (a.dtype() != float32 || a.shape() != shape)
    op_error(op, std::string(what) + " must be float32 " + shape_str(shape) + ", got " +
                     a.dtype().name() + " " + shape_str(a.shape()));
}

// Validates everything and returns the arrays the op reads, in the primitive's order.
std::vector<Array> checked_inputs(const char* op, const Array& logits, const SamplingParams& p,
                                  const SamplingInputs& in, bool draws = true) {
  logits.check_valid(op);
  require_floating(op, logits);
  if (logits.ndim() != 2 || logits.shape(1) == 0)
    op_error(op, "logits must be [B, V] with V >= 1, got shape " + shape_str(logits.shape()));
  check_params(op, p);
  const int64_t b = logits.shape(0), v = logits.shape(1);
  std::vector<Array> arrays{logits};
  if (!p.greedy() && draws) {
    if (!in.uniforms) op_error(op, "a draw needs uniforms (float32 [B]); only greedy needs none");
    check_float32(op, "uniforms", *in.uniforms, {b});
    arrays.push_back(*in.uniforms);
  }
  if (p.uses_prompt_counts()) {
    if (!in.prompt_counts) op_error(op, "a repetition penalty needs prompt_counts");
    check_float32(op, "prompt_counts", *in.prompt_counts, {b, v});
    arrays.push_back(*in.prompt_counts);
  }
  if (p.uses_generated_counts()) {
    if (!in.generated_counts) op_error(op, "penalties need generated_counts");
    check_float32(op, "generated_counts", *in.generated_counts, {b, v});
    arrays.push_back(*in.generated_counts);
  }
  for (const Array& a : arrays) {
    if (a.device() != logits.device())
      op_error(op, std::string("every input must be on the logits' device (") +
                       device_name(logits.device()) + "), one is on " + device_name(a.device()));
  }
  return arrays;
}

const float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

Array sample_tokens(const Array& logits, const SamplingParams& params,
                    const SamplingInputs& inputs) {
  auto arrays = checked_inputs("sample_tokens", logits, params, inputs);
  return Array({logits.shape(0)}, int32, std::make_shared<SampleTokens>(params), std::move(arrays));
}

Array count_tokens(const Array& counts, const Array& tokens) {
  const char* op = "count_tokens";
  counts.check_valid(op);
  tokens.check_valid(op);
  if (counts.dtype() != float32 || counts.ndim() != 2)
    op_error(op, std::string("counts must be float32 [B, V], got ") + counts.dtype().name() + " " +
                     shape_str(counts.shape()));
  if (!tokens.dtype().is_integral() || tokens.shape() != Shape{counts.shape(0)})
    op_error(op, "tokens must be integer " + shape_str({counts.shape(0)}) + ", got " +
                     tokens.dtype().name() + " " + shape_str(tokens.shape()));
  Array ids = tokens.dtype() == int32 ? tokens : astype(tokens, int32);
  return Array(counts.shape(), float32, std::make_shared<CountTokens>(), {counts, ids});
}

Array process_logits_reference(const Array& logits, const SamplingParams& p,
                               const SamplingInputs& in) {
  checked_inputs("sample_tokens_reference", logits, p, in, false);
  Array l = logits.dtype() == float32 ? logits : astype(logits, float32);
  if (p.uses_prompt_counts()) {
    Array penalized = where(l < 0.0f, l * p.repetition_penalty, l / p.repetition_penalty);
    l = where(*in.prompt_counts + *in.generated_counts > 0.0f, penalized, l);
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    Array present = astype(*in.generated_counts > 0.0f, float32);
    l = l - present * p.presence_penalty - *in.generated_counts * p.frequency_penalty;
  }
  if (p.greedy()) return l;
  if (p.temperature != 1.0f) l = l / p.temperature;
  const int64_t v = l.shape(1);
  if (p.top_k > 0 && p.top_k < v) {
    Array kth = slice_axis(topk(l, p.top_k, 1), 1, p.top_k - 1, p.top_k);
    l = where(l < kth, kNegInf, l);
  }
  if (p.top_p < 1.0) {
    // transformers: ascending sort, remove while the cumulative probability is <= 1 - p.
    Array a = sort(l, 1);
    Array cum = cumsum(softmax(a, 1), 1);
    Array removed = sum(cum <= static_cast<float>(1.0 - p.top_p), 1, true);
    removed = minimum(removed, Array(static_cast<int>(v - 1)));
    Array threshold = take_along_axis(a, removed, 1);  // the smallest kept logit
    l = where(l < threshold, kNegInf, l);
  }
  if (p.min_p > 0.0) {
    Array threshold = max(l, 1, true) + static_cast<float>(std::log(p.min_p));
    l = where(l < threshold, kNegInf, l);
  }
  return l;
}

Array sample_tokens_reference(const Array& logits, const SamplingParams& p,
                              const SamplingInputs& in) {
  Array l = process_logits_reference(logits, p, in);
  if (p.greedy()) return astype(argmax(l, 1), int32);
  // The first class whose cumulative probability exceeds u * total (zero-probability classes
  // never are: their cumulative value equals the previous one).
  const int64_t v = l.shape(1);
  Array cum = cumsum(softmax(l, 1), 1);
  Array total = slice_axis(cum, 1, v - 1, v);
  Array u = reshape(*in.uniforms, {l.shape(0), 1});
  return astype(sum(cum <= u * total, 1), int32);
}

}  // namespace lathe::fast
