// The sampling primitive's description.
#include "lathe/primitives/sampling.h"

namespace lathe {

std::string SampleTokens::describe() const {
  std::string s = "sample_tokens(";
  if (p_.greedy()) {
    s += "greedy";
  } else {
    s += "temperature=" + std::to_string(p_.temperature) + ", top_k=" + std::to_string(p_.top_k) +
         ", top_p=" + std::to_string(p_.top_p) + ", min_p=" + std::to_string(p_.min_p);
  }
  if (p_.uses_generated_counts()) {
    s += ", repetition=" + std::to_string(p_.repetition_penalty) +
         ", presence=" + std::to_string(p_.presence_penalty) +
         ", frequency=" + std::to_string(p_.frequency_penalty);
  }
  return s + ")";
}

}  // namespace lathe
