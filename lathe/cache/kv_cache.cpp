#include "lathe/cache/kv_cache.h"

namespace lathe {

std::vector<Array> cache_state(const KVCaches& caches) {
  std::vector<Array> out;
  for (const auto& c : caches) {
    auto s = c->state();
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

}  // namespace lathe
