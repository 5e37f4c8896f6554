// Replication batches cut by bytes (issue 11, item 1): a range of records the
// core asks for goes out as RecordBatch messages within the byte budget, all
// of them, in order, a record larger than the budget alone.
#include "replication/batch_cut.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/limits.h"
#include "replication/lifecycle_driver.h"
#include "replication/replicator.h"
#include "storage/mem_kv_store.h"
#include "storage/test_util.h"

namespace coffer::replication {
namespace {

constexpr int64_t kWall = 1'800'000'000'000'000;
const std::string kLarge(64 * 1024, 'x');  // a 64 KiB value, like a large secret

pb::LogRecord WalletRecord(uint32_t origin, uint64_t seq, const std::string& description) {
  pb::LogRecord r;
  r.set_origin(origin);
  r.set_seq(seq);
  r.set_format(1);
  r.mutable_hlc()->set_wall_micros(kWall - 1000);
  r.mutable_hlc()->set_logical(static_cast<uint32_t>(seq));
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "77777777-0000-4000-8000-%012llu",
                static_cast<unsigned long long>(seq));
  r.mutable_wallet_created()->set_uuid(uuid);
  r.mutable_wallet_created()->set_name("w" + std::to_string(seq));
  r.mutable_wallet_created()->set_description(description);
  return r;
}

TEST(BatchCutTest, CutsByBytesKeepsOrderAndSendsAnOversizedRecordAlone) {
  std::vector<pb::LogRecord> records;
  for (uint64_t seq = 1; seq <= 300; ++seq) records.push_back(WalletRecord(2, seq, kLarge));
  records.push_back(WalletRecord(2, 301, std::string(3 * 64 * 1024, 'y')));  // > budget below
  records.push_back(WalletRecord(2, 302, "small"));
  const size_t budget = 160 * 1024;
  auto batches = CutIntoBatches(records, budget);
  uint64_t next = 1;
  for (const auto& batch : batches) {
    ASSERT_TRUE(batch.has_records());
    ASSERT_GT(batch.records().records_size(), 0);
    if (batch.records().records_size() > 1) {
      EXPECT_LE(batch.records().ByteSizeLong(), budget);
    }
    for (const auto& r : batch.records().records()) EXPECT_EQ(r.seq(), next++);
  }
  EXPECT_EQ(next, 303u) << "every record is sent once, in order";
  // The oversized record travels alone.
  bool alone = false;
  for (const auto& batch : batches) {
    if (batch.records().records(0).seq() == 301) alone = batch.records().records_size() == 1;
  }
  EXPECT_TRUE(alone);
  EXPECT_TRUE(CutIntoBatches({}, budget).empty());
}

class RecordingTransport final : public Transport {
 public:
  void Send(uint32_t to, const pb::ReplicationMessage& message) override {
    if (message.has_records()) sent.emplace_back(to, message);
  }
  std::vector<std::pair<uint32_t, pb::ReplicationMessage>> sent;
};

// A node 1 holding 300 records of 64 KiB from origin 2; read-only node 3
// comes back with none of them: everything it is sent fits the smallest
// frame a node accepts (on main: one batch of 256 records, 16.8 MB, which
// the peer link refuses to send, so node 3 never caught up).
TEST(BatchCutTest, ReplicatorSendsALaggingPeerLargeRecordsWithinTheBudget) {
  ManualClock clock{kWall};
  SeededRng rng{1};
  auto root = storage::testing::FastRootOfTrust();
  storage::ObjectStoreOptions options;
  options.node_id = NodeId{1};
  auto store = storage::ObjectStore::Open(storage::OpenMemKvStore(storage::NewMemKvDisk()).value(),
                                          *root, clock, rng, options)
                   .value();
  std::vector<pb::LogRecord> setup(3);
  for (size_t i = 0; i < setup.size(); ++i) {
    setup[i].set_origin(2);
    setup[i].set_seq(i + 1);
    setup[i].set_format(1);
    setup[i].mutable_hlc()->set_wall_micros(kWall - 2000);
    setup[i].mutable_hlc()->set_logical(static_cast<uint32_t>(i));
  }
  auto* created = setup[0].mutable_cluster_created();
  created->set_cluster_id("5e5e5e5e-0000-4000-8000-000000000002");
  created->set_name("c");
  created->mutable_first_node()->set_node_id(2);
  created->mutable_first_node()->set_name("two");
  setup[1].mutable_node_added()->set_node_id(1);
  setup[1].mutable_node_added()->set_name("one");
  setup[1].mutable_node_added()->set_peer(2);
  setup[2].mutable_node_added()->set_node_id(3);
  setup[2].mutable_node_added()->set_name("three");
  setup[2].mutable_node_added()->set_role(pb::NODE_READ_ONLY);
  for (const auto& r : setup) ASSERT_TRUE(store->ApplyRemote(r, storage::Durability::kSync).ok());
  for (uint64_t seq = 4; seq < 304; ++seq) {
    ASSERT_TRUE(store->ApplyRemote(WalletRecord(2, seq, kLarge), storage::Durability::kAsync).ok());
  }
  ASSERT_TRUE(store->Sync().ok());

  RecordingTransport transport;
  Replicator replicator(*store, CoreMembers(store->Members().value()), CoreOptions{}, transport,
                        clock);
  clock.Advance(1000);  // monotonic time 0 reads as "never heard"
  pb::ReplicationMessage report;
  report.mutable_report()->mutable_applied();
  replicator.Receive(3, report);  // node 3 is back, with nothing applied
  for (int tick = 0; tick < 20; ++tick) {
    clock.Advance(10'000);
    replicator.Tick();
  }
  uint64_t next = 1;
  for (const auto& [to, message] : transport.sent) {
    if (to != 3) continue;
    EXPECT_LE(message.ByteSizeLong(), limits::kReplicationBatchBytes + limits::kMaxRecordBytes);
    EXPECT_LT(message.ByteSizeLong(), limits::kMinFrameBytes);
    for (const auto& r : message.records().records()) {
      ASSERT_EQ(r.origin(), 2u);
      if (r.seq() == next) ++next;  // a retransmission may repeat a range
    }
  }
  EXPECT_EQ(next, 304u) << "node 3 is sent every record";
}

}  // namespace
}  // namespace coffer::replication
