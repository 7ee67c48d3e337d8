// Description of the convolution primitive for graph printing.
#include "lathe/primitives/conv.h"

#include <sstream>

namespace lathe {

std::string Convolution::describe() const {
  std::ostringstream s;
  auto list = [&](const std::vector<int>& v) {
    s << '(';
    for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
    s << ')';
  };
  s << name() << "(stride=";
  list(p_.stride);
  s << ", padding=";
  list(p_.padding_lo);
  if (!p_.transpose) {
    s << '/';
    list(p_.padding_hi);
  }
  s << ", dilation=";
  list(p_.dilation);
  s << ", groups=" << p_.groups << ')';
  return s.str();
}

}  // namespace lathe
