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

TEST(UuidTest, ParseRejectsNonCanonical) {
  Uuid u;
  EXPECT_FALSE(Uuid::Parse("not-a-uuid", &u));
  EXPECT_FALSE(Uuid::Parse("AAAAAAAA-0000-4000-8000-000000000000", &u));
  EXPECT_FALSE(Uuid::Parse("0000000000000-4000-8000-000000000000", &u));
  EXPECT_TRUE(Uuid::Parse("aaaaaaaa-0000-4000-8000-000000000000", &u));
}

}  // namespace
}  // namespace coffer
