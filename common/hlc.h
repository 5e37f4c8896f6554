// Hybrid logical clock (Kulkarni et al.): stamps that follow wall time but are
// strictly increasing on one node and move past every stamp the node has seen.
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace coffer {

struct HlcStamp {
  int64_t wall_micros = 0;
  uint32_t logical = 0;
  auto operator<=>(const HlcStamp&) const = default;
  std::string ToString() const;
};

// How far into the future a received stamp may be (semantics 3, "Clocks").
inline constexpr int64_t kMaxClockOffsetMicros = 500'000;

// Not thread-safe: owned by one thread (the store's owner).
class HybridLogicalClock {
 public:
  // max_offset_micros: how far into the future a remote stamp may be before
  // Observe() refuses it. Default: 500 ms.
  explicit HybridLogicalClock(const Clock& clock, int64_t max_offset_micros = kMaxClockOffsetMicros)
      : clock_(clock), max_offset_micros_(max_offset_micros) {}

  // A new stamp, greater than every stamp returned or observed before.
  HlcStamp Now();
  // Moves the clock past a remote stamp. Returns INVALID_ARGUMENT (and leaves
  // the clock unchanged) if the stamp is more than max_offset ahead of wall time.
  Status Observe(const HlcStamp& remote);
  // Moves the clock past a stamp this node issued before a restart, without the
  // offset guard (a node's own persisted stamps are trusted).
  void Restore(const HlcStamp& own) { last_ = std::max(last_, own); }
  // The last stamp issued or observed.
  HlcStamp Last() const { return last_; }

 private:
  const Clock& clock_;
  int64_t max_offset_micros_;
  HlcStamp last_;
};

}  // namespace coffer
