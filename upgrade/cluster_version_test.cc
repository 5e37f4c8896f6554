#include "upgrade/cluster_version.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace coffer::upgrade {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr Release k02{0, 2, 0};
constexpr Release k03{0, 3, 0};
constexpr BinaryVersions kBinary02{k02, k02};
constexpr BinaryVersions kBinary03{Release{0, 3, 1}, k02};

MemberVersion Member(uint32_t id, std::optional<Release> release,
                     std::optional<Release> fence = std::nullopt) {
  return MemberVersion{id, "n" + std::to_string(id), release, fence};
}

TEST(ClusterVersionTest, ANodeFirstRecordsTheReleaseItRuns) {
  VersionView view{1, kBinary03, {Member(1, k02, k02), Member(2, k02, k02)}, k02, false};
  VersionStep step = Decide(view);
  ASSERT_TRUE(step.record_release.has_value());
  EXPECT_EQ(*step.record_release, (Release{0, 3, 1}));
  EXPECT_FALSE(step.record_fence || step.bump_to);
}

TEST(ClusterVersionTest, AMemberBelowOrUnknownKeepsTheVersion) {
  const Release r031{0, 3, 1};
  VersionView below{1, kBinary03, {Member(1, r031), Member(2, k02)}, k02, false};
  EXPECT_TRUE(Decide(below).empty());
  EXPECT_THAT(Holders(below), ElementsAre(HasSubstr("node n2 (2) runs 0.2.0")));

  VersionView unknown{1, kBinary03, {Member(1, r031), Member(2, std::nullopt)}, k02, false};
  EXPECT_TRUE(Decide(unknown).empty());
  EXPECT_FALSE(TargetClusterVersion(unknown).has_value());
  EXPECT_THAT(Holders(unknown), ElementsAre(HasSubstr("has not recorded its release")));
}

TEST(ClusterVersionTest, EveryMemberFencesBeforeAnyNodeBumps) {
  const Release r031{0, 3, 1};
  VersionView view{1, kBinary03, {Member(1, r031), Member(2, k03)}, k02, false};
  VersionStep first = Decide(view);
  ASSERT_TRUE(first.record_fence.has_value());
  EXPECT_EQ(*first.record_fence, k03);

  // This node fenced; the other has not: no bump, and it is named.
  view.members[0].fence = k03;
  EXPECT_TRUE(Decide(view).empty());
  EXPECT_THAT(Holders(view), ElementsAre(HasSubstr("node n2 (2) has not fenced 0.3")));

  EXPECT_EQ(VersionFloor(view), k03) << "this node refuses 0.2 binaries once it fenced 0.3";
  view.members[1].fence = k03;
  VersionStep bump = Decide(view);
  ASSERT_TRUE(bump.bump_to.has_value());
  EXPECT_EQ(*bump.bump_to, k03);

  // Bumped: nothing left to do, nothing holds it.
  view.cluster_version = k03;
  EXPECT_TRUE(Decide(view).empty());
  EXPECT_THAT(Holders(view), IsEmpty());
}

TEST(ClusterVersionTest, AHoldStopsFencesAndBumpsButNotTheReleaseRecord) {
  VersionView view{1, kBinary03, {Member(1, k02), Member(2, k03, k03)}, k02, true};
  EXPECT_TRUE(Decide(view).record_release.has_value());
  view.members[0].release = kBinary03.release;
  view.members[0].fence = k03;
  EXPECT_TRUE(Decide(view).empty());
  EXPECT_THAT(Holders(view), ElementsAre(HasSubstr("the hold")));
  view.held = false;
  EXPECT_TRUE(Decide(view).bump_to.has_value());
}

TEST(ClusterVersionTest, TheVersionRisesOneMinorAtATimeAndNeverPastThisBinary) {
  // Members on 0.4 (a state a real cluster never reaches from 0.2, but the
  // rule holds): the next step is 0.3, and a 0.3 binary goes no further.
  const Release r04{0, 4, 0};
  VersionView view{1, kBinary03, {Member(1, kBinary03.release), Member(2, r04)}, k02, false};
  ASSERT_TRUE(Decide(view).record_fence.has_value());
  EXPECT_EQ(*Decide(view).record_fence, k03);
  view.cluster_version = k03;
  view.members[0].fence = view.members[1].fence = k03;
  EXPECT_TRUE(Decide(view).empty());
}

TEST(ClusterVersionTest, NeverDecidesALowerVersion) {
  // A member rolled back to 0.2 after the bump (its store then refuses it)
  // never lowers the version.
  VersionView view{
      1, kBinary03, {Member(1, kBinary03.release, k03), Member(2, k02, k03)}, k03, false};
  VersionStep step = Decide(view);
  EXPECT_TRUE(step.empty());
}

TEST(ClusterVersionTest, AStoreWithoutAClusterVersionRecordsTheOneItRunsAt) {
  // A 0.1 store restarted on 0.2 (a full restart): once every member runs
  // 0.2, the version it runs at is written down, without a fence.
  VersionView view{1, kBinary02, {Member(1, k02), Member(2, std::nullopt)}, k02, false};
  view.cluster_version_recorded = false;
  EXPECT_TRUE(Decide(view).empty());
  view.members[1].release = k02;
  ASSERT_TRUE(Decide(view).bump_to.has_value());
  EXPECT_EQ(*Decide(view).bump_to, k02);
}

// A DISABLING or DISABLED node (EXPIRED included) writes no step: not its
// release, not a fence, not a bump. Found by the simulation's mixed-version
// seeds: a DISABLED node restarted on a new binary recorded its release, the
// record reached one node, the node then expired and was force-deleted, and
// the others never merged it (their digests stayed apart).
TEST(ClusterVersionTest, ADisabledNodeWritesNoStep) {
  const Release r031{0, 3, 1};
  VersionView view{1, kBinary03, {Member(1, k02, k02), Member(2, r031, k03)}, k02, false};
  ASSERT_TRUE(Decide(view).record_release.has_value());
  view.self_disabled = true;
  EXPECT_TRUE(Decide(view).empty());
  view.members[0].release = r031;
  EXPECT_TRUE(Decide(view).empty()) << "no fence while disabled";
  view.members[0].fence = k03;
  EXPECT_TRUE(Decide(view).empty()) << "no bump while disabled";
  view.self_disabled = false;
  EXPECT_EQ(Decide(view).bump_to, std::optional<Release>(k03));
}

TEST(ClusterVersionTest, AStandaloneStoreDecidesNothing) {
  VersionView view{1, kBinary02, {}, k02, false};
  EXPECT_TRUE(Decide(view).empty());
  EXPECT_THAT(Holders(view), IsEmpty());
}

}  // namespace
}  // namespace coffer::upgrade
