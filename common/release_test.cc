#include "common/release.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(ReleaseTest, ParsesFullAndMinorForms) {
  auto full = Release::Parse("0.12.3");
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(*full, (Release{0, 12, 3}));
  EXPECT_EQ(full->ToString(), "0.12.3");
  EXPECT_EQ(full->MinorString(), "0.12");
  EXPECT_EQ(Release::Parse("1.4"), (Release{1, 4, 0}));
}

TEST(ReleaseTest, RefusesMalformedText) {
  for (std::string_view bad : {"", "1", "1.", ".1", "1..2", "1.2.3.4", "a.b", "1.2-rc1", "1.2.",
                               "12345.1", " 1.2", "-1.2"}) {
    EXPECT_FALSE(Release::Parse(bad).has_value()) << bad;
  }
}

TEST(ReleaseTest, OrdersNumericallyNotAsText) {
  EXPECT_LT(*Release::Parse("0.9.0"), *Release::Parse("0.10.0"));
  EXPECT_LT(*Release::Parse("0.2.9"), *Release::Parse("0.3.0"));
  EXPECT_EQ(Release::Parse("0.2"), Release::Parse("0.2.0"));
}

TEST(ReleaseTest, MinorStepsStayWithinTheMajor) {
  constexpr Release r{0, 3, 7};
  static_assert(r.Minor() == Release{0, 3, 0});
  static_assert(r.NextMinor() == Release{0, 4, 0});
  static_assert(r.PreviousMinor() == Release{0, 2, 0});
  static_assert(Release{1, 0, 2}.PreviousMinor() == Release{1, 0, 0});
  static_assert(*Release::Parse("0.2.0") == Release{0, 2, 0});
}

}  // namespace
}  // namespace coffer
