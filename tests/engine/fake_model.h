// A deterministic stand-in for a language model, for testing the generation loop: the next
// token is (last + 1) % V, or follows a script by position. It keeps a real preallocated
// cache updated in place, so the loop's memory behaviour is exercised.
#pragma once

#include <vector>

#include "lathe/lathe.h"
#include "lathe/models/model.h"

namespace lathe::testing {

// Stores each position's token id as a float in a preallocated [B, 1, max, 1] buffer.
class TokenCache : public KVCache {
 public:
  TokenCache(int batch, int max_tokens)
      : buffer_(zeros({batch, 1, max_tokens, 1}, float32)), batch_(batch), max_(max_tokens) {
    keep(buffer_);
  }
  std::pair<Array, Array> update(const Array& keys, const Array& values) override {
    int t = static_cast<int>(keys.shape(2));
    if (offset_ + t > max_)
      throw Error("[TokenCache] " + std::to_string(offset_ + t) + " positions in a cache of " +
                  std::to_string(max_));
    buffer_ = slice_update(buffer_, keys, {0, 0, offset_, 0}, {batch_, 1, offset_ + t, 1});
    offset_ += t;
    Array seen = slice_axis(buffer_, 2, 0, offset_);
    return {seen, seen};
  }
  int offset() const override { return offset_; }
  std::vector<Array> state() const override { return {buffer_}; }
  void reset() override { offset_ = 0; }

 private:
  Array buffer_;
  int batch_, max_;
  int offset_ = 0;
};

class FakeModel : public LanguageModel {
 public:
  // With a script, the token predicted after absolute position pos is script[pos - start]
  // for pos in [start, start + script.size()), else (token + 1) % vocab.
  explicit FakeModel(int vocab, std::vector<int32_t> script = {}, int start = 0)
      : vocab_(vocab), script_(std::move(script)), start_(start), ids_(arange(vocab, int32)) {
    keep(ids_);
  }

  Array forward(const Array& tokens, KVCaches& caches) override {
    int64_t b = tokens.shape(0), t = tokens.shape(1);
    calls.push_back(static_cast<int>(t));
    int offset = caches[0]->offset();
    auto kv = caches[0]->update(reshape(astype(tokens, float32), {b, 1, t, 1}), Array(0.0f));
    Array next = remainder(tokens + 1, Array(vocab_));
    if (!script_.empty()) {
      std::vector<int32_t> scripted(static_cast<size_t>(t)), use(static_cast<size_t>(t));
      for (int64_t i = 0; i < t; ++i) {
        int64_t k = offset + i - start_;
        bool in = k >= 0 && k < static_cast<int64_t>(script_.size());
        scripted[i] = in ? script_[static_cast<size_t>(k)] : 0;
        use[i] = in;
      }
      next = where(array(use, {1, t}) != 0, array(scripted, {1, t}), next);
    }
    Array logits = astype(equal(expand_dims(next, -1), ids_), float32) * 10.0f;
    // Reading the cache makes its update part of what the logits need.
    return logits + sum(kv.first) * 0.0f;
  }

  KVCaches make_caches(int batch, int max_tokens) const override {
    KVCaches c;
    c.push_back(std::make_unique<TokenCache>(batch, max_tokens));
    return c;
  }
  std::vector<Array> weights() const override { return {ids_}; }
  int vocab_size() const override { return vocab_; }
  const std::string& model_type() const override { return type_; }

  std::vector<int> calls;  // T of every forward

 private:
  int vocab_;
  std::vector<int32_t> script_;
  int start_;
  Array ids_;
  std::string type_ = "fake";
};

}  // namespace lathe::testing
