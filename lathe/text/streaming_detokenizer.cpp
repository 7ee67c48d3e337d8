// StreamingDetokenizer: decode a sliding window of ids and emit what extends the previous
// decode, holding back text that ends in U+FFFD (an incomplete character).
#include "lathe/text/streaming_detokenizer.h"

#include "lathe/core/error.h"

namespace lathe::text {

namespace {

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

}  // namespace

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

void StreamingDetokenizer::reset() {
  ids_.clear();
  prefix_.clear();
  prefix_count_ = 0;
}

std::string StreamingDetokenizer::step(int32_t id) {
  ids_.push_back(id);
  std::string full = tokenizer_.decode(ids_, skip_special_);
  if (full.size() <= prefix_.size() || ends_with_replacement(full)) return {};
  if (full.compare(0, prefix_.size(), prefix_) != 0) {
    // The new id rewrote earlier text (a decoder that is not prefix-stable): emit nothing
    // now and let finish() settle it from the whole window.
    return {};
  }
  std::string out = full.substr(prefix_.size());
  // Slide the window: keep the ids since the previous emission as context, so decoders that
  // treat the first token specially (Strip, Metaspace) see the same first token as before.
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_count_));
  prefix_count_ = ids_.size();
  prefix_ = tokenizer_.decode(ids_, skip_special_);
  return out;
}

std::string StreamingDetokenizer::finish() {
  std::string full = tokenizer_.decode(ids_, skip_special_);
  std::string out;
  if (full.size() > prefix_.size() && full.compare(0, prefix_.size(), prefix_) == 0)
    out = full.substr(prefix_.size());
  reset();
  return out;
}

}  // namespace lathe::text
