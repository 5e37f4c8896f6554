#include "common/release.h"

namespace coffer {

std::string Release::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::string Release::MinorString() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

}  // namespace coffer
