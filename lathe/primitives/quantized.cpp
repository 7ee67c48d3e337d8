#include "lathe/primitives/quantized.h"

namespace lathe {

const char* quant_mode_name(QuantMode m) { return m == QuantMode::mxfp4 ? "mxfp4" : "affine"; }

std::string QuantSpec::str() const {
  return std::string(quant_mode_name(mode)) + ", group_size=" + std::to_string(group_size) +
         ", bits=" + std::to_string(bits);
}

}  // namespace lathe
