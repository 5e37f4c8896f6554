#include "common/clock.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace coffer {

int64_t OffsetFileClock::Offset() const {
  constexpr int64_t kRereadMicros = 20'000;
  int64_t now = system_.MonotonicMicros();
  int64_t last = read_at_.load(std::memory_order_relaxed);
  if (last >= 0 && now - last < kRereadMicros) return offset_.load(std::memory_order_relaxed);
  read_at_.store(now, std::memory_order_relaxed);
  std::ifstream in(path_);
  std::string text;
  std::getline(in, text, '\n');
  // A bounded number: at most 19 digits and a sign; anything else counts as 0.
  int64_t offset = 0;
  if (!text.empty() && text.size() <= 20) {
    char* end = nullptr;
    long long parsed = std::strtoll(text.c_str(), &end, 10);
    if (end != text.c_str() && (*end == '\0' || *end == '\r')) offset = parsed;
  }
  offset_.store(offset, std::memory_order_relaxed);
  return offset;
}

}  // namespace coffer
