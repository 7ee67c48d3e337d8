// Stop-string matching over a growing text with the smallest possible hold-back.
#include "lathe/engine/stop_strings.h"

#include <algorithm>

#include "lathe/core/error.h"

namespace lathe {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const auto& s : stops_)
    if (s.empty()) throw Error("[generate] a stop string is empty");
}

std::string StopStringMatcher::push(std::string_view text) {
  if (stopped_) return {};
  held_.append(text);
  // Everything emitted so far could not start a stop string, so a match starts in held_.
  size_t first = std::string::npos;
  for (const auto& s : stops_) {
    size_t p = held_.find(s);
    if (p < first) {
      first = p;
      matched_ = s;
    }
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Hold back the longest tail that is a proper prefix of a stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    size_t longest = std::min(s.size() - 1, held_.size());
    for (size_t k = longest; k > hold; --k) {
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return out;
}

std::string StopStringMatcher::flush() {
  std::string out;
  out.swap(held_);
  return stopped_ ? std::string() : out;
}

}  // namespace lathe
