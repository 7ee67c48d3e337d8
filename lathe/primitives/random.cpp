// Names and descriptions of the random primitives.
#include "lathe/primitives/random.h"

#include <string>

namespace lathe {

const char* RandomDraw::name() const {
  switch (kind_) {
    case RandomKind::bits: return "bits";
    case RandomKind::split: return "split";
    case RandomKind::uniform: return "uniform";
    case RandomKind::normal: return "normal";
    case RandomKind::gumbel: return "gumbel";
    case RandomKind::randint: return "randint";
  }
  return "random";
}

std::string RandomDraw::describe() const {
  switch (kind_) {
    case RandomKind::uniform:
      return "uniform(low=" + std::to_string(a_) + ", high=" + std::to_string(b_) + ")";
    case RandomKind::normal:
      return "normal(loc=" + std::to_string(a_) + ", scale=" + std::to_string(b_) + ")";
    case RandomKind::randint:
      return "randint(low=" + std::to_string(ilow_) + ", high=" + std::to_string(ihigh_) + ")";
    default: return name();
  }
}

std::string Categorical::describe() const {
  return "categorical(axis=" + std::to_string(axis_) +
         ", num_samples=" + std::to_string(num_samples_) + ")";
}

}  // namespace lathe
