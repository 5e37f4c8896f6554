#include "upgrade/version.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(VersionTest, OneMinorOfSkewEitherWayIsCompatible) {
  const BinaryVersions b03{Release{0, 3, 2}, Release{0, 2, 0}};
  const Release floor{0, 2, 0};
  EXPECT_TRUE(CheckCompatibleRelease("0.3.0", b03, floor).ok());
  EXPECT_TRUE(CheckCompatibleRelease("0.2.7", b03, floor).ok());
  EXPECT_TRUE(CheckCompatibleRelease("0.4.0", b03, floor).ok());
  Status far = CheckCompatibleRelease("0.5.0", b03, floor);
  EXPECT_EQ(far.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(far.message(), AllOf(HasSubstr("0.5.0"), HasSubstr("0.3.2")));
  EXPECT_EQ(CheckCompatibleRelease("0.1.9", b03, floor).code(), Code::kIncompatibleVersion);
}

TEST(VersionTest, ABinaryBelowTheClusterVersionIsRefused) {
  const BinaryVersions b03{Release{0, 3, 0}, Release{0, 2, 0}};
  Status below = CheckCompatibleRelease("0.2.5", b03, Release{0, 3, 0});
  EXPECT_EQ(below.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(below.message(),
              AllOf(HasSubstr("0.2.5"), HasSubstr("cluster's version 0.3"), HasSubstr("0.3.0")));
  EXPECT_TRUE(CheckCompatibleRelease("0.3.4", b03, Release{0, 3, 0}).ok());
}

TEST(VersionTest, ReleaseZeroOneNeedsAFullRestart) {
  Status s = CheckCompatibleRelease("0.1.0", kThisBinary, kThisBinary.min_cluster_version);
  EXPECT_EQ(s.code(), Code::kIncompatibleVersion);
  EXPECT_THAT(s.message(), HasSubstr("never below 0.2"));
  EXPECT_TRUE(
      CheckCompatibleRelease(kReleaseVersion, kThisBinary, kThisBinary.min_cluster_version).ok());
  EXPECT_EQ(CheckCompatibleRelease("garbage", kThisBinary, kThisBinary.min_cluster_version).code(),
            Code::kIncompatibleVersion);
}

}  // namespace
}  // namespace coffer
