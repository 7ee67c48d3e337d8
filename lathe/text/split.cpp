// Splitting a piece by match segments under the five tokenizers delimiter behaviours.
#include <algorithm>

#include "lathe/text/components.h"

namespace lathe::text {

void apply_split(const Piece& piece, const std::vector<Segment>& segs, SplitBehavior behavior,
                 std::vector<Piece>& out) {
  // (start, end, remove) after the behaviour has grouped the segments.
  struct Range {
    size_t start, end;
    bool remove;
  };
  std::vector<Range> ranges;
  ranges.reserve(segs.size());
  bool prev = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (auto& s : segs) ranges.push_back({s.start, s.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (auto& s : segs) ranges.push_back({s.start, s.end, s.match});
      break;
    case SplitBehavior::kContiguous:
      for (auto& s : segs) {
        if (s.match == prev && !ranges.empty()) {
          ranges.back().end = s.end;
        } else {
          ranges.push_back({s.start, s.end, false});
        }
        prev = s.match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (auto& s : segs) {
        if (s.match && !prev && !ranges.empty()) {
          ranges.back().end = s.end;
        } else {
          ranges.push_back({s.start, s.end, false});
        }
        prev = s.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (size_t k = segs.size(); k-- > 0;) {
        const Segment& s = segs[k];
        if (s.match && !prev && !ranges.empty()) {
          ranges.back().start = s.start;
        } else {
          ranges.push_back({s.start, s.end, false});
        }
        prev = s.match;
      }
      std::reverse(ranges.begin(), ranges.end());
      break;
  }
  for (auto& r : ranges) {
    if (r.remove || r.end == r.start) continue;
    out.push_back({piece.text.substr(r.start, r.end - r.start), piece.orig + r.start, -1});
  }
}

}  // namespace lathe::text
