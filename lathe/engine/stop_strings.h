// Stop strings for streamed text: emits text as soon as it cannot be the start of a stop
// string, and stops before the first stop string, which is never emitted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lathe {

class StopStringMatcher {
 public:
  // Empty stop strings are an error ("[generate] ...").
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Adds generated text; returns the part that is now safe to emit. Once a stop string is
  // complete, returns the text before it, stopped() turns true and later text is ignored.
  std::string push(std::string_view text);
  // At the end of generation: the text still held back (nothing can complete it now).
  std::string flush();
  bool stopped() const { return stopped_; }
  // The stop string that ended the text, when stopped().
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;  // the undecided tail: a prefix of some stop string
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace lathe
