// The status pages on their own: the one health mapping, /readyz, /health,
// and /metrics gauges (link series of a peer that left are removed; apply
// errors counted once).
#include "node/monitoring/status_pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace coffer::node {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

pb::NodeStatus SelfStatus(const std::string& state, const std::string& mode) {
  pb::NodeStatus s;
  s.set_node_name("alpha");
  s.set_state(state);
  s.set_mode(mode);
  return s;
}

TEST(HealthOfTest, OneCodePerCondition) {
  EXPECT_EQ(HealthOf(SelfStatus("ACTIVE", "read-write")).code, 200);
  EXPECT_EQ(HealthOf(SelfStatus("", "read-write")).code, 200) << "a standalone node";
  EXPECT_EQ(HealthOf(SelfStatus("ACTIVE", "read-only")).code, 429);
  EXPECT_EQ(HealthOf(SelfStatus("ACTIVE", "restricted")).code, 472);
  EXPECT_EQ(HealthOf(SelfStatus("PENDING", "restricted")).code, 473);
  EXPECT_EQ(HealthOf(SelfStatus("ENABLING", "unavailable")).code, 473);
  EXPECT_STREQ(HealthOf(SelfStatus("ENABLING", "unavailable")).verdict, "catching-up");
  EXPECT_EQ(HealthOf(SelfStatus("DISABLED", "unavailable")).code, 503);
  EXPECT_EQ(HealthOf(SelfStatus("EXPIRED", "unavailable")).code, 503);
  EXPECT_EQ(HealthOf(SelfStatus("ACTIVE", "something new")).code, 503);
}

TEST(StatusPagesTest, AStorageFaultIsNotReadyWhateverTheMode) {
  NodeMetrics metrics;
  StatusPages pages(metrics);
  pb::ClusterStatus cluster;
  *cluster.mutable_self() = SelfStatus("ACTIVE", "read-write");
  cluster.mutable_self()->set_storage_state("writable");
  EXPECT_EQ(pages.Page("/health", cluster, 0).status, 200);
  cluster.mutable_self()->set_storage_state("storage-fault");
  cluster.mutable_self()->set_storage_fault("RESOURCE_EXHAUSTED: No space left on device");
  cluster.mutable_self()->set_storage_free_bytes(0);
  EXPECT_EQ(HealthOf(cluster.self()).code, 507);
  HttpReply readyz = pages.Page("/readyz", cluster, 0);
  EXPECT_EQ(readyz.status, 503);
  EXPECT_EQ(readyz.body,
            "not ready: storage-fault (RESOURCE_EXHAUSTED: No space left on device)\n");
  HttpReply health = pages.Page("/health", cluster, 0);
  EXPECT_EQ(health.status, 507);
  auto body = nlohmann::json::parse(health.body);
  EXPECT_EQ(body["health"], "storage-fault");
  EXPECT_EQ(body["storage"], "storage-fault");
  std::string rendered = pages.Page("/metrics", cluster, 0).body;
  EXPECT_THAT(rendered, HasSubstr("coffer_storage_state{state=\"storage-fault\"} 1"));
  EXPECT_THAT(rendered, HasSubstr("coffer_storage_free_bytes 0"));
  pb::MemberView member;
  member.set_state("ACTIVE");
  EXPECT_EQ(MemberHealth(member, &cluster.self(), false), "storage-fault");
  cluster.mutable_self()->set_storage_state("resuming");
  EXPECT_EQ(pages.Page("/readyz", cluster, 0).status, 503);
}

TEST(StatusPagesTest, ReadyzAndHealthFollowTheMode) {
  NodeMetrics metrics;
  StatusPages pages(metrics);
  pb::ClusterStatus cluster;
  *cluster.mutable_self() = SelfStatus("ACTIVE", "read-write");
  EXPECT_EQ(pages.Page("/readyz", cluster, 0).status, 200);
  *cluster.mutable_self() = SelfStatus("ACTIVE", "restricted");
  cluster.mutable_self()->set_mode_reason("pair peer 2 is down");
  HttpReply readyz = pages.Page("/readyz", cluster, 0);
  EXPECT_EQ(readyz.status, 503);
  EXPECT_EQ(readyz.body, "not ready: restricted (pair peer 2 is down)\n");
  HttpReply health = pages.Page("/health", cluster, 0);
  EXPECT_EQ(health.status, 472);
  auto body = nlohmann::json::parse(health.body);
  EXPECT_EQ(body["health"], "restricted");
  EXPECT_EQ(body["node"], "alpha");
  EXPECT_EQ(body["reason"], "pair peer 2 is down");
  EXPECT_TRUE(IsStatusPage("/status"));
  EXPECT_FALSE(IsStatusPage("/livez")) << "answered on the network thread";
  EXPECT_EQ(NoSuchPage().status, 404);
}

TEST(StatusPagesTest, MetricsDropTheLinksOfAPeerThatLeftAndCountApplyErrorsOnce) {
  NodeMetrics metrics;
  StatusPages pages(metrics);
  pb::ClusterStatus cluster;
  *cluster.mutable_self() = SelfStatus("ACTIVE", "read-write");
  for (uint32_t peer : {2u, 3u}) {
    auto* link = cluster.mutable_self()->add_links();
    link->set_peer(peer);
    link->set_up(true);
  }
  std::string first = pages.Page("/metrics", cluster, 2).body;
  EXPECT_THAT(first, HasSubstr("coffer_link_up{peer=\"3\"} 1"));
  EXPECT_THAT(first, HasSubstr("coffer_replication_apply_errors_total 2"));
  cluster.mutable_self()->mutable_links()->RemoveLast();
  std::string second = pages.Page("/metrics", cluster, 5).body;
  EXPECT_THAT(second, HasSubstr("coffer_link_up{peer=\"2\"} 1"));
  EXPECT_THAT(second, Not(HasSubstr("peer=\"3\"")));
  EXPECT_THAT(second, HasSubstr("coffer_replication_apply_errors_total 5"));
}

// The origin-authentication counts of NodeStatus reach /metrics: the held
// records as a gauge, the since-start totals as counters counted once.
TEST(StatusPagesTest, MetricsShowHeldRecordsAndCountAdmissionTotalsOnce) {
  NodeMetrics metrics;
  StatusPages pages(metrics);
  pb::ClusterStatus cluster;
  *cluster.mutable_self() = SelfStatus("ACTIVE", "read-write");
  cluster.mutable_self()->set_unvouched_records(7);
  cluster.mutable_self()->set_unverified_records(3);
  cluster.mutable_self()->set_withheld_material_records(1);
  std::string first = pages.Page("/metrics", cluster, 0).body;
  EXPECT_THAT(first, HasSubstr("coffer_replication_unvouched_records 7\n"));
  EXPECT_THAT(first, HasSubstr("coffer_replication_unverified_records_total 3\n"));
  EXPECT_THAT(first, HasSubstr("coffer_replication_withheld_material_records_total 1\n"));
  cluster.mutable_self()->set_unvouched_records(0);
  cluster.mutable_self()->set_unverified_records(5);
  std::string second = pages.Page("/metrics", cluster, 0).body;
  EXPECT_THAT(second, HasSubstr("coffer_replication_unvouched_records 0\n"));
  EXPECT_THAT(second, HasSubstr("coffer_replication_unverified_records_total 5\n"));
  EXPECT_THAT(second, HasSubstr("coffer_replication_withheld_material_records_total 1\n"));
}

}  // namespace
}  // namespace coffer::node
