#include "common/hlc.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(HlcTest, StrictlyIncreasingWhenWallStandsStill) {
  ManualClock clock;
  HybridLogicalClock hlc(clock);
  HlcStamp a = hlc.Now();
  HlcStamp b = hlc.Now();
  EXPECT_LT(a, b);
  EXPECT_EQ(a.wall_micros, b.wall_micros);
  clock.Advance(10);
  HlcStamp c = hlc.Now();
  EXPECT_LT(b, c);
  EXPECT_EQ(c.logical, 0u);
}

TEST(HlcTest, ObserveMovesPastRemoteWithinOffset) {
  ManualClock clock;
  HybridLogicalClock hlc(clock, /*max_offset_micros=*/1000);
  HlcStamp remote{clock.WallMicros() + 500, 7};
  ASSERT_TRUE(hlc.Observe(remote).ok());
  EXPECT_GT(hlc.Now(), remote);
}

TEST(HlcTest, ObserveRefusesStampBeyondMaxOffsetAndKeepsState) {
  ManualClock clock;
  HybridLogicalClock hlc(clock, /*max_offset_micros=*/1000);
  HlcStamp before = hlc.Now();
  Status s = hlc.Observe({clock.WallMicros() + 5000, 0});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(hlc.Last(), before);
}

TEST(HlcTest, WallClockGoingBackDoesNotReorderStamps) {
  ManualClock clock;
  HybridLogicalClock hlc(clock);
  HlcStamp a = hlc.Now();
  clock.SetWall(clock.WallMicros() - 1'000'000);
  EXPECT_LT(a, hlc.Now());
}

}  // namespace
}  // namespace coffer
