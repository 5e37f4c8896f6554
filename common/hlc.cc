#include "common/hlc.h"

#include <algorithm>

namespace coffer {

std::string HlcStamp::ToString() const {
  return std::to_string(wall_micros) + "." + std::to_string(logical);
}

HlcStamp HybridLogicalClock::Now() {
  int64_t wall = clock_.WallMicros();
  if (wall > last_.wall_micros) {
    last_ = {wall, 0};
  } else {
    ++last_.logical;
  }
  return last_;
}

Status HybridLogicalClock::Observe(const HlcStamp& remote) {
  int64_t wall = clock_.WallMicros();
  if (remote.wall_micros > wall + max_offset_micros_) {
    return InvalidArgument(
        "stamp " + remote.ToString() + " is " + std::to_string(remote.wall_micros - wall) +
        "us ahead of local wall clock (max offset " + std::to_string(max_offset_micros_) + "us)");
  }
  HlcStamp next = std::max({last_, remote, HlcStamp{wall, 0}});
  if (next == last_ || next == remote) ++next.logical;
  last_ = next;
  return Status::Ok();
}

}  // namespace coffer
