// The cluster status table: cluster version, failure tolerance and the
// per-node health verdict, from a ClusterStatus built by hand.
#include "node/cli/cli_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/monitoring/health.h"

namespace coffer::node {
namespace {

using ::testing::HasSubstr;

// Two pairs (1-2, 3-4) and a read-only node 5, every node answering.
pb::ClusterStatus TwoPairs() {
  pb::ClusterStatus c;
  c.set_cluster_id("00000000-0000-4000-8000-000000000001");
  c.set_name("prod");
  const uint32_t peers[] = {0, 2, 1, 4, 3, 0};
  for (uint32_t id = 1; id <= 5; ++id) {
    auto* m = c.add_members();
    m->set_node_id(id);
    m->set_name("node" + std::to_string(id));
    m->set_role(id <= 4 ? "read-write" : "read-only");
    m->set_peer(peers[id]);
    m->set_version(id == 3 ? "0.2.0" : "0.3.1");
    m->set_state("ACTIVE");
    m->set_disable_seconds_left(-1);
    pb::NodeStatus* s = id == 1 ? c.mutable_self() : c.add_nodes();
    s->set_node_id(id);
    s->set_state("ACTIVE");
    s->set_mode(id <= 4 ? "read-write" : "read-only");
    auto* link = s->add_links();
    link->set_peer(id == 1 ? 2 : 1);
    link->set_up(true);
  }
  return c;
}

// `coffer node status` on a controller: each open induction transfer, with
// what a restart or a candidate that started over did to it.
TEST(NodeStatusTextTest, ShowsInductionTransfersWithRestartsAndStartsOver) {
  pb::NodeStatus status;
  status.set_node_name("alpha");
  auto* fresh = status.add_inductions();
  fresh->set_node_id(4);
  fresh->set_entries_sent(512);
  fresh->set_bytes_sent(64 * 1024);
  fresh->set_entries_estimate(2000);
  auto* resumed = status.add_inductions();
  resumed->set_node_id(5);
  resumed->set_entries_sent(90);
  resumed->set_reopened(true);
  resumed->set_started_over(2);
  resumed->set_done(true);
  std::string text = RenderNodeStatus(status, OutputFormat::kTable);
  EXPECT_THAT(text, ::testing::HasSubstr("inducting node 4: 512 of ~2000 snapshot entries sent "
                                         "(64 KiB)\n"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "inducting node 5: 90 snapshot entries sent (0 KiB) since this node "
                        "restarted (continued from its checkpoint); the candidate started over 2 "
                        "time(s); all sent, waiting to hear it on a link\n"));
}

TEST(ClusterStatusTableTest, ShowsTheClusterVersionAndToleranceOfWholePairs) {
  pb::ClusterStatus c = TwoPairs();
  c.mutable_versions()->set_cluster_version("0.2");
  c.mutable_versions()->add_holders("node node3 (3) runs 0.2.0");
  EXPECT_EQ(ClusterVersion(c), "0.2 (held back by 1)");
  std::string table = RenderClusterStatus(c, OutputFormat::kTable);
  EXPECT_THAT(table, HasSubstr("cluster version 0.2 (held back by 1)"));
  EXPECT_THAT(table, HasSubstr("failure tolerance: 1 node failure (2 whole read-write pairs)"));
  EXPECT_THAT(table, HasSubstr("healthy  node1"));

  // Node 3 restricted: one whole pair left, no failure tolerated.
  c.mutable_nodes(1)->set_mode("restricted");
  table = RenderClusterStatus(c, OutputFormat::kTable);
  EXPECT_THAT(table, HasSubstr("failure tolerance: 0 node failures (1 whole read-write pair)"));
  EXPECT_THAT(table, HasSubstr("restricted  node3"));

  // Node 1 restricted too: nothing can take critical writes.
  c.mutable_self()->set_mode("restricted");
  EXPECT_THAT(RenderClusterStatus(c, OutputFormat::kTable), HasSubstr("failure tolerance: none"));
}

TEST(ClusterStatusTableTest, ShowsAnUpgradePlanUntilItEnds) {
  pb::ClusterStatus c = TwoPairs();
  auto* plan = c.mutable_upgrade();
  plan->set_to_release("0.3.0");
  plan->set_state(pb::UPGRADE_RUNNING);
  plan->add_nodes()->set_step(pb::STEP_DONE);
  plan->add_nodes()->set_step(pb::STEP_WAIT_ACTIVE);
  EXPECT_THAT(
      RenderClusterStatus(c, OutputFormat::kTable),
      HasSubstr("upgrade: plan to 0.3.0 RUNNING, 1 of 2 nodes done (coffer upgrade status)"));
  plan->set_state(pb::UPGRADE_FINALIZED);
  EXPECT_THAT(RenderClusterStatus(c, OutputFormat::kTable), ::testing::Not(HasSubstr("upgrade:")));
}

TEST(ClusterStatusTableTest, HealthVerdicts) {
  pb::ClusterStatus c = TwoPairs();
  const pb::MemberView& m = c.members(1);
  pb::NodeStatus s = c.nodes(0);
  EXPECT_EQ(MemberHealth(m, &s, false), "healthy");
  EXPECT_EQ(MemberHealth(m, nullptr, true), "down");
  s.mutable_links(0)->set_up(false);
  EXPECT_EQ(MemberHealth(m, &s, false), "degraded");
  s.set_state("ENABLING");
  EXPECT_EQ(MemberHealth(m, &s, false), "catching-up");
  pb::MemberView disabled = m;
  disabled.set_state("DISABLED");
  EXPECT_EQ(MemberHealth(disabled, &s, false), "disabled");
  disabled.set_state("EXPIRED");
  EXPECT_EQ(MemberHealth(disabled, nullptr, true), "expired");
}

TEST(ObjectTextTest, DestroyedMaterialIsErasedAndTheRevocationReasonShown) {
  pb::ObjectView o;
  o.set_uuid("u");
  o.set_state(pb::DESTROYED);
  o.set_material_length(32);
  o.set_revocation_reason(pb::CESSATION_OF_OPERATION);
  std::string text = RenderObject(o, OutputFormat::kTable);
  EXPECT_THAT(text, ::testing::HasSubstr("erased"));
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("32 bytes")));
  EXPECT_THAT(text, ::testing::HasSubstr("cessation"));
  o.set_state(pb::ACTIVE);
  o.set_revocation_reason(pb::REVOCATION_REASON_UNSPECIFIED);
  text = RenderObject(o, OutputFormat::kTable);
  EXPECT_THAT(text, ::testing::HasSubstr("32 bytes"));
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("revoked")));
}

TEST(ClusterStatusTableTest, ShowsSettingsAndNameConflicts) {
  pb::ClusterStatus c;
  c.set_cluster_id("cid");
  c.set_name("prod");
  c.set_max_disable_seconds(7200);
  std::string text = RenderClusterStatus(c, OutputFormat::kTable);
  EXPECT_THAT(text, HasSubstr("max-disable-duration 7200 s"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("name conflicts")));
  c.set_name_conflicts(1);
  EXPECT_THAT(RenderClusterStatus(c, OutputFormat::kTable),
              HasSubstr("name conflicts: 1 entity carries a generated name"));
}

}  // namespace
}  // namespace coffer::node

namespace coffer::node {
namespace {

TEST(VersionTableTest, ShowsReleasesFencesHoldersAndFeatures) {
  pb::ClusterStatus c = TwoPairs();
  c.mutable_members(0)->set_fence_version("0.3");
  auto* v = c.mutable_versions();
  v->set_cluster_version("0.2");
  v->set_held(true);
  v->add_holders("the hold set by `coffer cluster version hold`");
  v->set_binary_release("0.3.1");
  v->set_min_cluster_version("0.2");
  v->set_max_cluster_version("0.3");
  auto* f = v->add_features();
  f->set_name("labels");
  f->set_introduced("0.3");
  f->set_active(false);
  f->set_changes("objects carry labels");
  std::string table = RenderVersions(c, OutputFormat::kTable);
  EXPECT_THAT(table, HasSubstr("cluster version 0.2 (held: coffer cluster version release)"));
  EXPECT_THAT(table, HasSubstr("binary 0.3.1 runs cluster versions 0.2 to 0.3"));
  EXPECT_THAT(table, HasSubstr("node3"));
  EXPECT_THAT(table, HasSubstr("0.3"));
  EXPECT_THAT(table, HasSubstr("held back by:\n  the hold"));
  EXPECT_THAT(table, HasSubstr("inactive"));
  std::string json = RenderVersions(c, OutputFormat::kJson);
  EXPECT_THAT(json, HasSubstr("\"fence_version\": \"0.3\""));
  EXPECT_THAT(json, HasSubstr("\"held\": true"));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("\"self\"")));
}

}  // namespace
}  // namespace coffer::node
