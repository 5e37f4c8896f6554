#include "upgrade/version.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(VersionTest, OneMinorOfSkewEitherWayIsCompatible) {
  const BinaryVersions b03{Release{0, 3, 2}, Release{0, 2, 0}};
  EXPECT_TRUE(CheckCompatibleRelease("0.3.0", b03).ok());
  EXPECT_TRUE(CheckCompatibleRelease("0.2.7", b03).ok());
  EXPECT_TRUE(CheckCompatibleRelease("0.4.0", b03).ok());
  Status far = CheckCompatibleRelease("0.5.0", b03);
  EXPECT_EQ(far.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(far.message(), AllOf(HasSubstr("0.5.0"), HasSubstr("0.3.2")));
  EXPECT_EQ(CheckCompatibleRelease("0.1.9", b03).code(), Code::kIncompatibleVersion);
}

TEST(VersionTest, ReleaseZeroOneNeedsAFullRestart) {
  Status s = CheckCompatibleRelease("0.1.0", kThisBinary);
  EXPECT_EQ(s.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(s.message(), HasSubstr("never below 0.2"));
  EXPECT_TRUE(CheckCompatibleRelease(kReleaseVersion).ok());
  EXPECT_EQ(CheckCompatibleRelease("garbage").code(), Code::kIncompatibleVersion);
}

}  // namespace
}  // namespace coffer
