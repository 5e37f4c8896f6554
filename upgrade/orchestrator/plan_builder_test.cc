// The plan's order and the pre-checks (plan_builder.h, prechecks.h).
#include "upgrade/orchestrator/plan_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "upgrade/orchestrator/prechecks.h"
#include "upgrade/orchestrator/test_nodes.h"

namespace coffer::upgrade {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr Release k030{0, 3, 0};
constexpr int64_t kNow = 1'800'000'000'000'000;

NodeObservation Node(uint32_t id, pb::NodeRole role, uint32_t peer, uint64_t unreplicated = 0) {
  NodeObservation n = testing::HealthyNode(id, role, peer, kNow);
  n.unreplicated = unreplicated;
  return n;
}

// Pairs (1,2), (3,4) and read-only 5: every pre-check but backup passes.
ClusterObservation Healthy() {
  ClusterObservation o;
  o.now_micros = kNow;
  o.cluster_version = "0.2";
  o.max_disable_seconds = 3600;
  o.nodes = {Node(1, pb::NODE_READ_WRITE, 2), Node(2, pb::NODE_READ_WRITE, 1),
             Node(3, pb::NODE_READ_WRITE, 4), Node(4, pb::NODE_READ_WRITE, 3),
             Node(5, pb::NODE_READ_ONLY, 0)};
  return o;
}

const pb::UpgradeCheck& CheckNamed(const std::vector<pb::UpgradeCheck>& checks,
                                   std::string_view name) {
  auto it = std::find_if(checks.begin(), checks.end(),
                         [&](const pb::UpgradeCheck& c) { return c.name() == name; });
  EXPECT_NE(it, checks.end()) << name;
  return *it;
}

TEST(PlanBuilderTest, ReadOnlyNodesFirstThenPairsByLowestIdFewerUnreplicatedFirst) {
  ClusterObservation o;
  // Given out of order: pair (6,3) has the lowest id 3, pair (4,9) 4; two
  // read-only nodes, the one with fewer unreplicated records first.
  o.nodes = {Node(9, pb::NODE_READ_WRITE, 4, 0), Node(8, pb::NODE_READ_ONLY, 0, 5),
             Node(6, pb::NODE_READ_WRITE, 3, 1), Node(4, pb::NODE_READ_WRITE, 9, 7),
             Node(3, pb::NODE_READ_WRITE, 6, 2), Node(10, pb::NODE_READ_ONLY, 0, 1)};
  // Within pair (6,3): 6 has fewer unreplicated (1 < 2); within (4,9): 9.
  EXPECT_THAT(UpgradeOrder(o), ElementsAre(10, 8, 6, 3, 9, 4));
}

TEST(PlanBuilderTest, EqualUnreplicatedGoesByLowerId) {
  ClusterObservation o;
  o.nodes = {Node(2, pb::NODE_READ_WRITE, 1), Node(1, pb::NODE_READ_WRITE, 2),
             Node(7, pb::NODE_READ_ONLY, 0), Node(5, pb::NODE_READ_ONLY, 0)};
  EXPECT_THAT(UpgradeOrder(o), ElementsAre(5, 7, 1, 2));
}

TEST(PlanBuilderTest, MakePlanListsEveryNodePendingInOrder) {
  ClusterObservation o = Healthy();
  auto plan = MakePlan(o, PlanRequest{.plan_id = "p1",
                                      .owner = "orch",
                                      .target = k030,
                                      .binary = "coffer-next",
                                      .overrides = {"backup"}});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->revision(), 1u);
  EXPECT_EQ(plan->state(), pb::UPGRADE_RUNNING);
  EXPECT_EQ(plan->from_release(), "0.2.0");
  EXPECT_EQ(plan->to_release(), "0.3.0");
  EXPECT_EQ(plan->from_cluster_version(), "0.2");
  ASSERT_EQ(plan->nodes_size(), 5);
  EXPECT_EQ(plan->nodes(0).node_id(), 5u);
  EXPECT_EQ(plan->nodes(1).node_id(), 1u);
  EXPECT_EQ(plan->nodes(4).node_id(), 4u);
  for (const auto& n : plan->nodes()) EXPECT_EQ(n.step(), pb::STEP_PENDING);
  EXPECT_THAT(plan->overrides(), ElementsAre("backup"));
}

TEST(PrechecksTest, AHealthyClusterPassesWithBackupOverridden) {
  auto checks = RunPrechecks(Healthy(), k030, {"backup"}, PrecheckOptions{});
  ASSERT_EQ(checks.size(), std::size(kPrecheckNames));
  for (size_t i = 0; i < checks.size(); ++i) {
    EXPECT_EQ(checks[i].name(), kPrecheckNames[i]);
    EXPECT_TRUE(checks[i].passed()) << checks[i].name() << ": " << checks[i].observed();
  }
  EXPECT_TRUE(CheckNamed(checks, "backup").overridden());
  EXPECT_FALSE(CheckNamed(checks, "members-active").overridden());
  EXPECT_TRUE(PrecheckVerdict(checks).ok());
}

TEST(PrechecksTest, WithoutTheOverrideBackupFails) {
  auto checks = RunPrechecks(Healthy(), k030, {}, PrecheckOptions{});
  Status verdict = PrecheckVerdict(checks);
  EXPECT_EQ(verdict.code(), Code::kPrecheckFailed);
  EXPECT_THAT(verdict.message(), HasSubstr("backup"));
}

TEST(PrechecksTest, ASkippedReleaseIsRefused) {
  auto checks = RunPrechecks(Healthy(), Release{0, 4, 0}, {"backup"}, PrecheckOptions{});
  const auto& c = CheckNamed(checks, "target-release");
  EXPECT_FALSE(c.passed());
  EXPECT_THAT(c.observed(), HasSubstr("cluster runs 0.2.0, target 0.4.0"));
  EXPECT_THAT(c.observed(), HasSubstr("0.3.x"));
  EXPECT_EQ(PrecheckVerdict(checks).code(), Code::kPrecheckFailed);
}

TEST(PrechecksTest, ALowerTargetIsRefused) {
  auto checks = RunPrechecks(Healthy(), Release{0, 1, 0}, {"backup"}, PrecheckOptions{});
  EXPECT_THAT(CheckNamed(checks, "target-release").observed(), HasSubstr("rollback"));
}

TEST(PrechecksTest, MixedReleasesAreRefusedNamingTheMember) {
  ClusterObservation o = Healthy();
  o.nodes[2].running_release = "0.3.0";
  auto checks = RunPrechecks(o, k030, {"backup"}, PrecheckOptions{});
  const auto& c = CheckNamed(checks, "target-release");
  EXPECT_FALSE(c.passed());
  EXPECT_THAT(c.observed(), HasSubstr("members on another release: n3 (0.3.0)"));
}

TEST(PrechecksTest, AnotherPlanIsUpgradeInProgress) {
  ClusterObservation o = Healthy();
  pb::UpgradePlan other;
  other.set_plan_id("other");
  other.set_to_release("0.3.0");
  other.set_state(pb::UPGRADE_PAUSED);
  other.set_owner("orch-2");
  o.plan = other;
  auto checks = RunPrechecks(o, k030, {"backup"}, PrecheckOptions{});
  EXPECT_FALSE(CheckNamed(checks, "no-other-plan").passed());
  Status verdict = PrecheckVerdict(checks);
  EXPECT_EQ(verdict.code(), Code::kUpgradeInProgress);
  EXPECT_THAT(verdict.message(), HasSubstr("other"));
  EXPECT_THAT(verdict.message(), HasSubstr("orch-2"));

  // A finished plan is no obstacle, and the new plan's revision follows it.
  o.plan->set_state(pb::UPGRADE_FINALIZED);
  o.plan->set_revision(41);
  EXPECT_TRUE(CheckNamed(RunPrechecks(o, k030, {"backup"}, {}), "no-other-plan").passed());
  auto plan = MakePlan(
      o,
      PlanRequest{.plan_id = "p2", .owner = "o", .target = k030, .binary = "b", .overrides = {}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->revision(), 42u);
}

TEST(PrechecksTest, OnlyOverridableChecksCanBeOverridden) {
  ClusterObservation o = Healthy();
  o.nodes[1].state = "DISABLED";
  o.nodes[0].max_lag_ms = 60'000;
  auto checks =
      RunPrechecks(o, k030, {"backup", "replication-lag", "members-active"}, PrecheckOptions{});
  // replication-lag may be overridden: passes, recorded as overridden.
  EXPECT_TRUE(CheckNamed(checks, "replication-lag").passed());
  EXPECT_TRUE(CheckNamed(checks, "replication-lag").overridden());
  // members-active and no-disabled guard the pairs: the override is ignored.
  EXPECT_FALSE(CheckNamed(checks, "members-active").passed());
  EXPECT_FALSE(CheckNamed(checks, "members-active").overridden());
  EXPECT_FALSE(CheckNamed(checks, "no-disabled").passed());
  EXPECT_THAT(CheckNamed(checks, "no-disabled").observed(), HasSubstr("n2 (DISABLED)"));
  EXPECT_EQ(PrecheckVerdict(checks).code(), Code::kPrecheckFailed);

  EXPECT_TRUE(ValidateOverrides({"backup", "certificates", "disk-headroom", "replication-lag",
                                 "max-disable-duration"})
                  .ok());
  Status refused = ValidateOverrides({"members-active"});
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("cannot be overridden"));
  EXPECT_EQ(ValidateOverrides({"force"}).code(), Code::kInvalidArgument);
  for (std::string_view name :
       {"no-other-plan", "target-release", "members-reachable", "binary-present", "check-store"}) {
    EXPECT_FALSE(Overridable(name)) << name;
  }
}

TEST(PrechecksTest, UnreachableMembersAndAMissingBinaryAreNamed) {
  ClusterObservation o = Healthy();
  o.nodes[3].reachable = false;
  o.nodes[3].reachable_error = "connection refused";
  o.nodes[4].target_binary_release = "";
  auto checks = RunPrechecks(o, k030, {"backup"}, PrecheckOptions{});
  EXPECT_THAT(CheckNamed(checks, "members-reachable").observed(),
              HasSubstr("n4 (unreachable: connection refused)"));
  EXPECT_THAT(CheckNamed(checks, "binary-present").observed(), HasSubstr("n5 (binary missing)"));
}

TEST(PlanBuilderTest, CurrentReleaseIsTheLowestRunOrRecorded) {
  ClusterObservation o = Healthy();
  o.nodes[0].recorded_release = "0.1.5";
  auto r = CurrentRelease(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Release{0, 1, 5}));
  EXPECT_EQ(CurrentRelease(ClusterObservation{}).status().code(), Code::kInvalidState);
}

}  // namespace
}  // namespace coffer::upgrade
