// The driver side of node states and log GC: membership read from stored
// rows, and the decisions performed on a real store and replicator.
#include "replication/lifecycle_driver.h"

#include <gtest/gtest.h>

#include "storage/mem_kv_store.h"
#include "storage/test_util.h"

namespace coffer::replication {
namespace {

constexpr int64_t kWall = 1'800'000'000'000'000;

class NullTransport final : public Transport {
 public:
  void Send(uint32_t, const pb::ReplicationMessage&) override {}
};

pb::StoredNode Row(uint32_t id, pb::NodeState state, uint32_t peer = 0) {
  pb::StoredNode n;
  n.set_node_id(id);
  n.set_state(state);
  n.set_peer(peer);
  return n;
}

TEST(LifecycleDriverTest, MembershipReadFromStoredRows) {
  pb::StoredCluster cluster;
  cluster.set_max_disable_seconds(10);
  pb::StoredNode disabled = Row(3, pb::NODE_DISABLED);
  disabled.set_disabled_at_micros(kWall);
  (*disabled.mutable_disabled_applied()->mutable_applied())[1] = 4;
  pb::StoredNode gone = Row(4, pb::NODE_ACTIVE);
  gone.set_deleted(true);
  std::vector<pb::StoredNode> rows = {Row(1, pb::NODE_ACTIVE, 2), Row(2, pb::NODE_DISABLING, 1),
                                      disabled, gone};
  auto members = CoreMembers(rows);
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].peer, 2u);
  EXPECT_EQ(members[1].state, MemberState::kDisabling);
  EXPECT_EQ(members[2].state, MemberState::kDisabled);
  auto records = MemberRecords(rows, cluster);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].window_end_wall_micros, kWall + 10'000'000);
  EXPECT_EQ(records[2].disabled_applied, (VersionVector{{1, 4}}));
  EXPECT_EQ(SelfState(rows, 2), pb::NODE_DISABLING);
  EXPECT_EQ(SelfState(rows, 9), pb::NODE_ACTIVE);
}

// Node 1 of a pair (1, 2) holding records of origin 2 (the cluster and its
// members, then writes); node 2 reports what it has.
class LogGcOnAStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::ObjectStoreOptions options;
    options.node_id = NodeId{1};
    store_ = storage::ObjectStore::Open(storage::OpenMemKvStore(storage::NewMemKvDisk()).value(),
                                        *root_, clock_, rng_, options)
                 .value();
    std::vector<pb::LogRecord> records(3);
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].set_origin(2);
      records[i].set_seq(i + 1);
      records[i].mutable_hlc()->set_wall_micros(clock_.WallMicros() - 1000);
      records[i].mutable_hlc()->set_logical(static_cast<uint32_t>(i));
      records[i].set_format(1);
    }
    auto* created = records[0].mutable_cluster_created();
    created->set_cluster_id("5e5e5e5e-0000-4000-8000-000000000002");
    created->set_name("c");
    created->mutable_first_node()->set_node_id(2);
    created->mutable_first_node()->set_name("two");
    auto* added = records[1].mutable_node_added();
    added->set_node_id(1);
    added->set_name("one");
    added->set_peer(2);
    records[2].mutable_wallet_created()->set_uuid("77777777-0000-4000-8000-000000000003");
    records[2].mutable_wallet_created()->set_name("w");
    for (const auto& r : records)
      ASSERT_TRUE(store_->ApplyRemote(r, storage::Durability::kSync).ok());
    replicator_ = std::make_unique<Replicator>(*store_, CoreMembers(store_->Members().value()),
                                               CoreOptions{}, transport_, clock_);
  }

  void PeerReports(const VersionVector& applied) {
    clock_.Advance(1000);  // monotonic time 0 reads as "never heard"
    pb::ReplicationMessage m;
    *m.mutable_report()->mutable_applied() = ToProto(applied);
    replicator_->Receive(2, m);
  }

  ManualClock clock_{kWall};
  SeededRng rng_{1};
  std::unique_ptr<storage::RootOfTrust> root_ = storage::testing::FastRootOfTrust();
  std::unique_ptr<storage::ObjectStore> store_;
  NullTransport transport_;
  std::unique_ptr<Replicator> replicator_;
};

TEST_F(LogGcOnAStoreTest, DeletesWhatThePeerReportedOncePerInterval) {
  LogGc gc(LogGcOptions{.interval_micros = 1'000'000});
  EXPECT_EQ(RunLogGc(gc, *store_, *replicator_, clock_).value(), 0u) << "peer not heard from";
  PeerReports({{2, 2}});
  EXPECT_EQ(RunLogGc(gc, *store_, *replicator_, clock_).value(), 0u) << "not due yet";
  clock_.Advance(999'000);
  EXPECT_EQ(RunLogGc(gc, *store_, *replicator_, clock_).value(), 2u);
  EXPECT_EQ(store_->ReadLog(2, 1, 10).value().size(), 1u) << "2:3 stays: the peer lacks it";
}

TEST_F(LogGcOnAStoreTest, StepLifecycleWritesTheStateItDecided) {
  // Node 2 disabled node 1: node 1 hands off (nothing of its own to hand
  // off), then records DISABLED with what it had applied.
  pb::LogRecord disabling;
  disabling.set_origin(2);
  disabling.set_seq(4);
  disabling.mutable_hlc()->set_wall_micros(clock_.WallMicros());
  disabling.set_format(1);
  disabling.mutable_node_state_set()->set_node_id(1);
  disabling.mutable_node_state_set()->set_state(pb::NODE_DISABLING);
  ASSERT_TRUE(store_->ApplyRemote(disabling, storage::Durability::kSync).ok());
  replicator_->SetMembers(CoreMembers(store_->Members().value()));
  PeerReports({{2, 4}});
  NodeLifecycle lifecycle;
  auto written =
      StepLifecycle(lifecycle, SelfState(store_->Members().value(), 1), *replicator_, rng_);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_TRUE(*written);
  EXPECT_EQ(**written, pb::NODE_DISABLED);
  auto rows = store_->Members().value();
  EXPECT_EQ(SelfState(rows, 1), pb::NODE_DISABLED);
  for (const auto& r : rows) {
    if (r.node_id() == 1) {
      EXPECT_EQ(ToVector(r.disabled_applied()), (VersionVector{{2, 4}}));
    }
  }
  auto again = StepLifecycle(lifecycle, pb::NODE_DISABLED, *replicator_, rng_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again) << "DISABLED is where it stays";
}

}  // namespace
}  // namespace coffer::replication
