#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace coffer {
namespace {

TEST(UuidTest, GeneratedUuidsAreCanonicalAndDistinct) {
  SeededRng rng(42);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    Uuid u = Uuid::Generate(rng);
    ASSERT_TRUE(Uuid::IsValid(u.str())) << u.str();
    EXPECT_EQ(u.str()[14], '4');
    seen.insert(u.str());
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(UuidTest, SameSeedSameUuids) {
  SeededRng a(7), b(7);
  EXPECT_EQ(Uuid::Generate(a), Uuid::Generate(b));
}

TEST(UuidTest, TimeOrderedUuidsSortByTheirTimeAndCarryVersion7) {
  SeededRng rng(42);
  const int64_t start = 1'764'000'000'000'000;  // micros, late 2025
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    // Steps of 1 us cross millisecond boundaries and the 12-bit fraction.
    Uuid u = Uuid::GenerateTimeOrdered(start + i * 7, rng);
    ASSERT_TRUE(Uuid::IsValid(u.str())) << u.str();
    EXPECT_EQ(u.str()[14], '7') << u.str();
    EXPECT_NE(std::string("89ab").find(u.str()[19]), std::string::npos) << u.str();  // variant 10
    if (!previous.empty()) {
      EXPECT_LT(previous, u.str()) << "made " << 7 << " us after it";
    }
    previous = u.str();
    seen.insert(u.str());
  }
  EXPECT_EQ(seen.size(), 1000u);
  // The first 48 bits are the Unix milliseconds, big-endian.
  Uuid at = Uuid::GenerateTimeOrdered(start, rng);
  std::string hex = at.str().substr(0, 8) + at.str().substr(9, 4);
  EXPECT_EQ(std::stoull(hex, nullptr, 16), static_cast<uint64_t>(start / 1000));
  // Same time, different randomness: distinct ids.
  EXPECT_NE(Uuid::GenerateTimeOrdered(start, rng), Uuid::GenerateTimeOrdered(start, rng));
}

TEST(UuidTest, ParseRejectsNonCanonical) {
  Uuid u;
  EXPECT_FALSE(Uuid::Parse("not-a-uuid", &u));
  EXPECT_FALSE(Uuid::Parse("AAAAAAAA-0000-4000-8000-000000000000", &u));
  EXPECT_FALSE(Uuid::Parse("0000000000000-4000-8000-000000000000", &u));
  EXPECT_TRUE(Uuid::Parse("aaaaaaaa-0000-4000-8000-000000000000", &u));
}

}  // namespace
}  // namespace coffer
