#include "upgrade/gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer::upgrade {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A registry with a feature of the next release, as a 0.3 binary has.
constexpr FeatureInfo kTestFeatures[] = {
    {Feature::kClusterVersion, "cluster-version", Release{0, 2, 0}, "base"},
    {static_cast<Feature>(900), "test-labels", Release{0, 3, 0}, "objects carry labels"},
};
constexpr Feature kLabels = static_cast<Feature>(900);

TEST(GateTest, AFeatureIsActiveFromItsRelease) {
  GateSnapshot old_cluster(kTestFeatures, Release{0, 2, 0}, false, {});
  EXPECT_TRUE(old_cluster.IsActive(Feature::kClusterVersion));
  EXPECT_FALSE(old_cluster.IsActive(kLabels));
  GateSnapshot new_cluster(kTestFeatures, Release{0, 3, 0}, false, {});
  EXPECT_TRUE(new_cluster.IsActive(kLabels));
  EXPECT_TRUE(new_cluster.Require(kLabels).ok());
}

TEST(GateTest, TheRefusalNamesFeatureVersionsAndHolders) {
  GateSnapshot gate(kTestFeatures, Release{0, 2, 0}, false, {"node b (2) runs 0.2.0"});
  Status s = gate.Require(kLabels);
  EXPECT_EQ(s.code(), Code::kFeatureNotActive);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("test-labels"), HasSubstr("needs cluster version 0.3"),
                    HasSubstr("cluster version is 0.2"), HasSubstr("node b (2) runs 0.2.0")));
  GateSnapshot held(kTestFeatures, Release{0, 2, 0}, true, {});
  EXPECT_THAT(held.Require(kLabels).message(), HasSubstr("held"));
}

TEST(GateTest, AFeatureThisBinaryDoesNotKnowIsNeverActive) {
  GateSnapshot gate(kRegistry, Release{9, 0, 0}, false, {});
  EXPECT_FALSE(gate.IsActive(kLabels));
  EXPECT_EQ(gate.Require(kLabels).code(), Code::kFeatureNotActive);
}

TEST(GateTest, TheRegistryChecksCatchDisorderAndFutureFeatures) {
  constexpr FeatureInfo unsorted[] = {
      {static_cast<Feature>(901), "b", Release{0, 3, 0}, ""},
      {static_cast<Feature>(902), "a", Release{0, 2, 0}, ""},
  };
  static_assert(!RegistryIsValid(unsorted, BinaryVersions{Release{0, 3, 0}, Release{0, 2, 0}}));
  static_assert(
      !RegistryIsValid(kTestFeatures, kThisBinary.release == Release{0, 2, 0}
                                          ? kThisBinary
                                          : BinaryVersions{Release{0, 2, 0}, Release{0, 2, 0}}));
  static_assert(RegistryIsValid(kTestFeatures, BinaryVersions{Release{0, 3, 0}, Release{0, 2, 0}}));
  constexpr FeatureInfo patch[] = {{static_cast<Feature>(903), "p", Release{0, 2, 1}, ""}};
  static_assert(!RegistryIsValid(patch, kThisBinary));
  SUCCEED();
}

}  // namespace
}  // namespace coffer::upgrade
