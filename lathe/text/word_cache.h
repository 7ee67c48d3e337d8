// A bounded, thread-safe cache from a pre-tokenized word to its ids: text repeats words, so
// most model calls become one hash lookup.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace lathe::text {

class WordCache {
 public:
  static constexpr size_t kCapacity = 10000;
  static constexpr size_t kMaxWordBytes = 256;

  // Appends the cached ids of word to out; false when it is not cached.
  bool lookup(const std::string& word, std::vector<int32_t>& out) const {
    if (word.size() >= kMaxWordBytes) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(word);
    if (it == map_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }

  void store(const std::string& word, const std::vector<int32_t>& ids, size_t from) const {
    if (word.size() >= kMaxWordBytes) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (map_.size() < kCapacity)
      map_.emplace(
          word, std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(from), ids.end()));
  }

 private:
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> map_;
};

}  // namespace lathe::text
