// Descriptions of the fused-op primitives (graph printing, error messages).
#include "lathe/primitives/fast.h"

namespace lathe {

std::string Rope::describe() const {
  return std::string("rope(dims=") + std::to_string(p_.dims) +
         (p_.traditional ? ", traditional" : "") +
         (p_.has_freqs ? ", freqs" : ", base=" + std::to_string(p_.base)) +
         ", scale=" + std::to_string(p_.scale) +
         (p_.offset_is_array ? ", offset=array" : ", offset=" + std::to_string(p_.offset)) + ")";
}

std::string Attention::describe() const {
  return std::string("scaled_dot_product_attention(scale=") + std::to_string(p_.scale) +
         (p_.causal ? ", causal" : "") +
         (p_.window > 0 ? ", window=" + std::to_string(p_.window) : "") +
         (p_.has_mask ? ", mask" : "") + (p_.has_sinks ? ", sinks" : "") +
         (p_.has_kv_length ? ", kv_length" : "") + ")";
}

}  // namespace lathe
