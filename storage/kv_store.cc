#include "storage/kv_store.h"

namespace coffer::storage {

std::string PrefixSuccessor(std::string_view prefix) {
  std::string bound(prefix);
  // Drop trailing 0xff bytes (no key starting with the prefix is above them),
  // then increment the last byte left.
  while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xff) bound.pop_back();
  if (!bound.empty())
    bound.back() = static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
  return bound;
}

}  // namespace coffer::storage
