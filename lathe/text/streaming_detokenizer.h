// Incremental decoding for generation: feed ids one at a time, get text as soon as it is
// final. Never emits part of a UTF-8 character; everything emitted plus finish() equals
// decode(all ids) whenever later ids only extend the decoded text (true for every id
// sequence an encoder produces).
#pragma once

#include <string>
#include <vector>

#include "lathe/text/tokenizer.h"

namespace lathe::text {

class StreamingDetokenizer {
 public:
  StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = false);

  // Adds one id; returns the new text (possibly empty while a character is incomplete).
  std::string step(int32_t id);
  // Returns whatever is still held back (e.g. an incomplete character at the very end).
  std::string finish();
  void reset();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  // ids_[0, prefix_count_) decode to prefix_; the window starts at an id boundary after which
  // decoding is independent of what came before.
  std::vector<int32_t> ids_;
  std::string prefix_;
  size_t prefix_count_ = 0;
};

}  // namespace lathe::text
