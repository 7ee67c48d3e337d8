// lathe::Error: the one exception type every user-facing failure throws.
#pragma once

#include <stdexcept>
#include <string>

namespace lathe {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace lathe
