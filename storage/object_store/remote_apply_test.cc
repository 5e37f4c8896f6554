// ObjectStore with records from other origins: duplicates, gaps, log GC,
// name conflicts, destroy and creation orders, request ids, members.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "storage/keys.h"
#include "storage/mem_kv_store.h"
#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Backend;
using testing::CreateKey;
using testing::Destroy;
using testing::LogOf;
using testing::Register;
using testing::WalletCreate;

using RemoteApplyTest = testing::TwoStoresTest;

TEST_F(RemoteApplyTest, DuplicatesAreIgnoredGapsRefusedOwnOriginRefused) {
  ASSERT_TRUE(a_->store->Execute(CreateKey(), "r1").ok());
  ASSERT_TRUE(a_->store->Execute(CreateKey(), "r2").ok());
  auto records = a_->store->ReadLog(1, 1, 10);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ(b_->store->ApplyRemote(records->at(1)).status().code(), Code::kUnavailable);
  EXPECT_EQ(*b_->store->ApplyRemote(records->at(0)), ApplyOutcome::kApplied);
  EXPECT_EQ(*b_->store->ApplyRemote(records->at(0)), ApplyOutcome::kDuplicate);
  EXPECT_EQ(*b_->store->ApplyRemote(records->at(1)), ApplyOutcome::kApplied);
  EXPECT_EQ(b_->store->StateDigest(), a_->store->StateDigest());
  EXPECT_EQ(a_->store->ApplyRemote(records->at(0)).status().code(), Code::kInvalidArgument);
  // A retry of the same request id on the other node returns the original result.
  auto retried = b_->store->Execute(CreateKey(), "r1");
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->uuid(), records->at(0).result().uuid());
  EXPECT_EQ(b_->store->ObjectCount(), 2u);
}

TEST_F(RemoteApplyTest, CollectLogDeletesOnlyThroughTheGivenSeqInBoundedSteps) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(a_->store->Execute(CreateKey(), "r" + std::to_string(i)).ok());
  }
  auto digest = a_->store->StateDigest();
  auto applied = a_->store->Applied();
  auto first = a_->store->CollectLog(1, 7, /*max_records=*/4);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 4u);  // bounded step
  EXPECT_EQ(a_->store->log_collected().at(1), 4u);
  auto second = a_->store->CollectLog(1, 7, 4);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 3u);
  EXPECT_EQ(a_->store->log_collected().at(1), 7u);
  EXPECT_EQ(*a_->store->CollectLog(1, 7, 4), 0u) << "nothing left through 7";
  auto rest = a_->store->ReadLog(1, 1, 100);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ(rest->front().seq(), 8u);
  auto span = a_->store->LogAfter(1, 0);
  ASSERT_TRUE(span.ok());
  EXPECT_EQ(span->records, 3u);
  uint64_t rest_bytes = 0;
  for (const auto& r : *rest) rest_bytes += r.ByteSizeLong();
  EXPECT_GE(span->bytes, rest_bytes) << "records as stored, with their keys";
  EXPECT_EQ(a_->store->LogAfter(1, 9)->records, 1u);
  EXPECT_EQ(a_->store->LogAfter(1, 10)->records, 0u);
  EXPECT_EQ(a_->store->LogAfter(1, 10)->bytes, 0u);
  EXPECT_EQ(a_->store->LogAfter(2, 0)->records, 0u) << "an origin with no records";
  // State, applied vector and request ids stay.
  EXPECT_EQ(a_->store->StateDigest(), digest);
  EXPECT_EQ(a_->store->Applied(), applied);
  auto found = a_->store->FindRequest("r0");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
}

// Log GC deletes a collected range with one range tombstone: later reads of
// the origin's log (a peer asking from seq 1, LogAfter from 0, the next
// CollectLog's seek) step over none of the collected records, where one
// tombstone per record made each of them walk every collected record.
TEST_F(RemoteApplyTest, CollectLogLeavesNoPerRecordTombstonesForReadsToStepOver) {
  constexpr int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(a_->store->Execute(CreateKey(), "r" + std::to_string(i)).ok());
  }
  auto deleted = a_->store->CollectLog(1, kRecords - 1, /*max_records=*/1000);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, static_cast<uint64_t>(kRecords - 1));
  CountRocksIteratorWorkOnThisThread();
  auto rest = a_->store->ReadLog(1, 1, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().seq(), static_cast<uint64_t>(kRecords));
  EXPECT_EQ(a_->store->LogAfter(1, 0)->records, 1u);
  EXPECT_LT(TakeRocksIteratorWorkOnThisThread().internal_keys_skipped, 10u);
  // Collected again through the last: nothing is left, nothing is counted twice.
  EXPECT_EQ(*a_->store->CollectLog(1, kRecords, 1000), 1u);
  EXPECT_EQ(*a_->store->CollectLog(1, kRecords, 1000), 0u);
  EXPECT_TRUE(a_->store->ReadLog(1, 1, 10)->empty());
}

// Past kLogSpanSampleRecords, LogAfter's bytes are the sampled mean size
// times the exact count: near the exact figure for records of one size.
TEST_F(RemoteApplyTest, LogAfterExtrapolatesBytesFromASampleOfALongLog) {
  constexpr uint64_t kRecords = ObjectStore::kLogSpanSampleRecords + 476;
  for (uint64_t i = 0; i < kRecords; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "r%08llu", static_cast<unsigned long long>(i));
    ASSERT_TRUE(a_->store->Execute(CreateKey(), id).ok());
  }
  auto all = a_->store->LogAfter(1, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->records, kRecords);
  // The last kLogSpanSampleRecords records: read whole, exact.
  auto tail = a_->store->LogAfter(1, kRecords - ObjectStore::kLogSpanSampleRecords);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->records, ObjectStore::kLogSpanSampleRecords);
  double expected = static_cast<double>(tail->bytes) * kRecords / tail->records;
  EXPECT_NEAR(static_cast<double>(all->bytes), expected, expected * 0.05);
}

TEST_F(RemoteApplyTest, RecordFromTheFarFutureIsRefusedAndChangesNothing) {
  ASSERT_TRUE(a_->store->Execute(CreateKey(), "r1").ok());
  auto records = a_->store->ReadLog(1, 1, 10);
  pb::LogRecord r = records->at(0);
  r.mutable_hlc()->set_wall_micros(b_->clock.WallMicros() + 3'600'000'000LL);
  auto digest = b_->store->StateDigest();
  EXPECT_EQ(b_->store->ApplyRemote(r).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b_->store->StateDigest(), digest);
  EXPECT_TRUE(b_->store->Applied().empty());
}

TEST_F(RemoteApplyTest, ConcurrentWalletNamesConflictAndAcceptResolves) {
  auto wa = a_->store->Execute(WalletCreate("payroll"), "wa");
  b_->clock.Advance(5);
  auto wb = b_->store->Execute(WalletCreate("payroll"), "wb");
  ASSERT_TRUE(wa.ok() && wb.ok());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) {
    auto applied = b_->store->ApplyRemote(r);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }
  for (const auto& r : LogOf(*b_->store, 2, 1, 10)) ASSERT_TRUE(a_->store->ApplyRemote(r).ok());
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  for (auto* node : {a_.get(), b_.get()}) {
    auto conflicts = node->store->ListConflicts();
    ASSERT_TRUE(conflicts.ok());
    ASSERT_EQ(conflicts->size(), 1u);
    EXPECT_EQ(conflicts->at(0).uuid(), wb->uuid()) << "the earlier claim keeps the name";
    EXPECT_EQ(conflicts->at(0).generated_name(), "payroll~" + wb->uuid());
    EXPECT_EQ(node->store->GetWallet("payroll")->uuid(), wa->uuid());
    EXPECT_EQ(node->store->GetWallet("payroll~" + wb->uuid())->uuid(), wb->uuid());
  }
  pb::Op accept;
  accept.mutable_rename()->set_kind(pb::ENTITY_WALLET);
  accept.mutable_rename()->set_uuid(wb->uuid());
  accept.mutable_rename()->set_accept_generated(true);
  ASSERT_TRUE(b_->store->Execute(accept, "accept").ok());
  EXPECT_EQ(b_->store->Execute(accept, "accept-again").status().code(), Code::kInvalidState);
  for (const auto& r : LogOf(*b_->store, 2, 2, 10)) ASSERT_TRUE(a_->store->ApplyRemote(r).ok());
  EXPECT_TRUE(a_->store->ListConflicts()->empty());
  EXPECT_TRUE(b_->store->ListConflicts()->empty());
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  EXPECT_EQ(a_->store->GetWallet("payroll~" + wb->uuid())->supplied_name(),
            "payroll~" + wb->uuid());
}

TEST_F(RemoteApplyTest, RenameResolvesAConflict) {
  auto ka = a_->store->Execute(CreateKey("shared"), "ka");
  auto kb = b_->store->Execute(CreateKey("shared"), "kb");
  ASSERT_TRUE(ka.ok() && kb.ok());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) {
    auto applied = b_->store->ApplyRemote(r);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }
  for (const auto& r : LogOf(*b_->store, 2, 1, 10)) ASSERT_TRUE(a_->store->ApplyRemote(r).ok());
  auto conflicts = a_->store->ListConflicts();
  ASSERT_EQ(conflicts->size(), 1u);
  pb::Op rename;
  rename.mutable_rename()->set_kind(pb::ENTITY_OBJECT);
  rename.mutable_rename()->set_uuid(conflicts->at(0).uuid());
  rename.mutable_rename()->set_new_name("shared-2");
  ASSERT_TRUE(a_->store->Execute(rename, "rn").ok());
  for (const auto& r : LogOf(*a_->store, 1, 2, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  EXPECT_TRUE(b_->store->ListConflicts()->empty());
  EXPECT_EQ(b_->store->Get(conflicts->at(0).uuid(), false)->name(), "shared-2");
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
}

TEST_F(RemoteApplyTest, DestroyErasesMaterialFromTheCreationRecordAndStillConverges) {
  const std::string marker = "MARKER-destroy-me";
  auto created = a_->store->Execute(Register(pb::SECRET_DATA, marker), "c");
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(a_->store->Execute(Destroy(created->uuid()), "d").ok());
  auto log = a_->store->ReadLog(1, 1, 10);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_TRUE(log->at(0).object_created().material().empty());
  // Only the material goes: the rest stays as its origin signed it.
  EXPECT_EQ(log->at(0).object_created().stage(), pb::STAGE_PRE_ACTIVE);
  for (const auto& r : *log) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  EXPECT_EQ(b_->store->Get(created->uuid(), false)->state(), pb::DESTROYED);
}

TEST_F(RemoteApplyTest, CreationArrivingAfterItsDestroyIsLoggedWithoutMaterial) {
  // A creates K; B applies it and destroys K; C receives B's destroy first.
  auto c = testing::MakeNode(Backend::kMemEnv, "/c", 3, 3);
  auto created = a_->store->Execute(Register(pb::SECRET_DATA, "MARKER-late-create"), "k");
  ASSERT_TRUE(created.ok());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  ASSERT_TRUE(b_->store->Execute(Destroy(created->uuid()), "d").ok());
  for (const auto& r : LogOf(*b_->store, 2, 1, 10)) ASSERT_TRUE(c->store->ApplyRemote(r).ok());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(c->store->ApplyRemote(r).ok());
  auto logged = LogOf(*c->store, 1, 1, 10);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_TRUE(logged[0].object_created().material().empty()) << "C would serve a destroyed key";
  EXPECT_EQ(logged[0].object_created().stage(), pb::STAGE_PRE_ACTIVE);
  EXPECT_EQ(c->store->Get(created->uuid(), false)->state(), pb::DESTROYED);
  EXPECT_EQ(c->store->StateDigest(), b_->store->StateDigest());
}

TEST_F(RemoteApplyTest, SameRequestIdOnTwoNodesResolvesToOneAnswerEverywhere) {
  auto on_a = a_->store->Execute(CreateKey(), "shared-id");
  b_->clock.Advance(10);
  auto on_b = b_->store->Execute(CreateKey(), "shared-id");
  ASSERT_TRUE(on_a.ok() && on_b.ok());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  for (const auto& r : LogOf(*b_->store, 2, 1, 10)) ASSERT_TRUE(a_->store->ApplyRemote(r).ok());
  auto retry_a = a_->store->Execute(CreateKey(), "shared-id");
  auto retry_b = b_->store->Execute(CreateKey(), "shared-id");
  ASSERT_TRUE(retry_a.ok() && retry_b.ok());
  EXPECT_EQ(retry_a->uuid(), on_a->uuid()) << "the earlier stamp answers";
  EXPECT_EQ(retry_b->uuid(), on_a->uuid());
}

TEST_F(RemoteApplyTest, RecordCarryingForeignCiphertextIsRefused) {
  ASSERT_TRUE(a_->store->Execute(Register(pb::SECRET_DATA, "x"), "r").ok());
  pb::LogRecord r = LogOf(*a_->store, 1, 1, 1).at(0);
  r.mutable_object_created()->set_sealed_material("opaque bytes from elsewhere");
  EXPECT_EQ(b_->store->ApplyRemote(r).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(b_->store->Applied().empty());
}

pb::Op ClusterInit(const std::string& name, const std::string& node_name) {
  pb::Op op;
  op.mutable_cluster_init()->set_name(name);
  op.mutable_cluster_init()->set_node_name(node_name);
  return op;
}

pb::LogRecord NodeAddedRecord(uint32_t origin, uint64_t seq, int64_t wall, uint32_t id,
                              const std::string& name, pb::NodeRole role, uint32_t peer) {
  pb::LogRecord r;
  r.set_origin(origin);
  r.set_seq(seq);
  r.mutable_hlc()->set_wall_micros(wall);
  r.set_format(1);
  auto* n = r.mutable_node_added();
  n->set_node_id(id);
  n->set_name(name);
  n->set_role(role);
  n->set_peer(peer);
  return r;
}

TEST_F(RemoteApplyTest, ClusterInitMakesTheFirstMemberAndReplicates) {
  ASSERT_EQ(a_->store->Execute(ClusterInit("", "alpha"), "i0").status().code(),
            Code::kInvalidArgument);
  auto created = a_->store->Execute(ClusterInit("prod", "alpha"), "i1");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(a_->store->Execute(ClusterInit("again", "alpha"), "i2").status().code(),
            Code::kAlreadyExists);
  auto cluster = a_->store->Cluster();
  ASSERT_TRUE(cluster.ok() && cluster->has_value());
  EXPECT_EQ((*cluster)->name(), "prod");
  EXPECT_EQ((*cluster)->cluster_id(), created->uuid());
  auto members = a_->store->Members();
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ(members->at(0).node_id(), 1u);
  EXPECT_EQ(members->at(0).name().name(), "alpha");
  EXPECT_EQ(members->at(0).role(), pb::NODE_READ_WRITE);
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  EXPECT_EQ((*b_->store->Cluster())->cluster_id(), created->uuid());
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  EXPECT_EQ(*a_->store->RecomputeDigest(), a_->store->StateDigest());
}

TEST_F(RemoteApplyTest, NodeNamesAreUniqueAndPairsShowOnBothSides) {
  ASSERT_TRUE(a_->store->Execute(ClusterInit("prod", "alpha"), "i1").ok());
  int64_t later = a_->clock.WallMicros() + 10;
  // Node 4 joins as node 1's read-write peer; node 3 claims the name "alpha" too.
  std::vector<pb::LogRecord> records = {
      NodeAddedRecord(3, 1, later, 3, "alpha", pb::NODE_READ_ONLY, 0),
      NodeAddedRecord(3, 2, later + 1, 4, "delta", pb::NODE_READ_WRITE, 1)};
  for (const auto& r : records) ASSERT_TRUE(a_->store->ApplyRemote(r).ok());
  // b receives the same records in the other order of origins.
  for (const auto& r : records) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  for (const auto& r : LogOf(*a_->store, 1, 1, 10)) ASSERT_TRUE(b_->store->ApplyRemote(r).ok());
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
  for (auto* node : {a_.get(), b_.get()}) {
    auto members = node->store->Members();
    ASSERT_TRUE(members.ok());
    ASSERT_EQ(members->size(), 3u);
    std::map<uint32_t, pb::StoredNode> by_id;
    for (const auto& m : *members) by_id[m.node_id()] = m;
    EXPECT_EQ(by_id[1].name().name(), "alpha") << "the earlier claim keeps the name";
    EXPECT_EQ(by_id[3].name().name(), "alpha~3");
    EXPECT_EQ(by_id[1].peer(), 4u) << "pair recorded on node 4, shown on node 1";
    EXPECT_EQ(by_id[4].peer(), 1u);
    auto conflicts = node->store->ListConflicts();
    ASSERT_EQ(conflicts->size(), 1u);
    EXPECT_EQ(conflicts->at(0).kind(), pb::ENTITY_NODE);
    EXPECT_EQ(conflicts->at(0).uuid(), "3");
  }
}

pb::Op NodeAdd(const std::string& name, pb::NodeRole role) {
  pb::Op op;
  op.mutable_node_add()->set_name(name);
  op.mutable_node_add()->set_role(role);
  return op;
}

TEST_F(RemoteApplyTest, NodeAddPicksFreshIdsAndKeepsOnePeerPerNode) {
  EXPECT_EQ(a_->store->Execute(NodeAdd("beta", pb::NODE_READ_WRITE), "n0").status().code(),
            Code::kInvalidState)
      << "a standalone node adds no nodes";
  ASSERT_TRUE(a_->store->Execute(ClusterInit("prod", "alpha"), "i1").ok());
  EXPECT_EQ(a_->store->Execute(NodeAdd("alpha", pb::NODE_READ_ONLY), "n1").status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(a_->store->Execute(NodeAdd("beta", pb::NODE_ROLE_UNSPECIFIED), "n2").status().code(),
            Code::kInvalidArgument);
  auto beta = a_->store->Execute(NodeAdd("beta", pb::NODE_READ_WRITE), "n3");
  ASSERT_TRUE(beta.ok()) << beta.status().ToString();
  EXPECT_EQ(beta->uuid(), "2");
  EXPECT_EQ(a_->store->Execute(NodeAdd("gamma", pb::NODE_READ_WRITE), "n4").status().code(),
            Code::kInvalidState)
      << "node 1 already has a peer";
  // An origin seen in the log counts even if its node is not a member here.
  ASSERT_TRUE(a_->store
                  ->ApplyRemote(NodeAddedRecord(7, 1, a_->clock.WallMicros() + 5, 9, "x",
                                                pb::NODE_READ_ONLY, 0))
                  .ok());
  auto gamma = a_->store->Execute(NodeAdd("gamma", pb::NODE_READ_ONLY), "n5");
  ASSERT_TRUE(gamma.ok());
  EXPECT_EQ(gamma->uuid(), "10");
  auto members = a_->store->Members();
  std::map<uint32_t, pb::StoredNode> by_id;
  for (const auto& m : *members) by_id[m.node_id()] = m;
  EXPECT_EQ(by_id[1].peer(), 2u);
  EXPECT_EQ(by_id[2].peer(), 1u);
  EXPECT_EQ(by_id[2].role(), pb::NODE_READ_WRITE);
  EXPECT_EQ(by_id[10].role(), pb::NODE_READ_ONLY);
  // A read-only node that inducts a read-write peer becomes read-write.
  ASSERT_TRUE(a_->store
                  ->ApplyRemote(NodeAddedRecord(7, 2, a_->clock.WallMicros() + 6, 11, "delta",
                                                pb::NODE_READ_WRITE, 10))
                  .ok());
  members = a_->store->Members();
  by_id.clear();
  for (const auto& m : *members) by_id[m.node_id()] = m;
  EXPECT_EQ(by_id[10].role(), pb::NODE_READ_WRITE);
  EXPECT_EQ(by_id[10].peer(), 11u);
}

// A member's state change and its deletion commute: found by the simulation
// (seed 209 of issue 12's branch), where the node that applied the deletion
// first ignored the later-stamped DISABLED record and kept DISABLING.
TEST_F(RemoteApplyTest, NodeStateChangeAndNodeDeletionCommute) {
  pb::LogRecord state;
  state.set_origin(4);
  state.set_seq(1);
  state.mutable_hlc()->set_wall_micros(2000);
  state.mutable_node_state_set()->set_node_id(4);
  state.mutable_node_state_set()->set_state(pb::NODE_DISABLED);
  pb::LogRecord deleted;
  deleted.set_origin(5);
  deleted.set_seq(1);
  deleted.mutable_hlc()->set_wall_micros(1000);
  deleted.mutable_node_deleted()->set_node_id(4);
  ASSERT_TRUE(a_->store->ApplyRemote(state).ok());
  ASSERT_TRUE(a_->store->ApplyRemote(deleted).ok());
  ASSERT_TRUE(b_->store->ApplyRemote(deleted).ok());
  ASSERT_TRUE(b_->store->ApplyRemote(state).ok());
  EXPECT_EQ(a_->store->StateDigest(), b_->store->StateDigest());
}

// Found by simulation seed 9588: with --allow-multiple each node in turn
// was disabled while the one before was still DISABLING, until none was
// enabled; once all expired, no node could force-delete another.
TEST_F(RemoteApplyTest, DisableIsRefusedWhenEveryOtherMemberIsDisablingOrDisabled) {
  ASSERT_TRUE(a_->store->Execute(ClusterInit("prod", "alpha"), "i1").ok());
  ASSERT_TRUE(a_->store
                  ->ApplyRemote(NodeAddedRecord(3, 1, a_->clock.WallMicros() + 10, 3, "gamma",
                                                pb::NODE_READ_ONLY, 0))
                  .ok());
  auto disable = [](uint32_t node) {
    pb::Op op;
    op.mutable_node_state()->set_node_id(node);
    op.mutable_node_state()->set_state(pb::NODE_DISABLING);
    op.mutable_node_state()->set_allow_multiple_disabled(true);
    return op;
  };
  ASSERT_TRUE(a_->store->Execute(disable(3), "d3").ok());
  auto last = a_->store->Execute(disable(1), "d1");
  ASSERT_EQ(last.status().code(), Code::kInvalidState) << "the last enabled node was disabled";
  EXPECT_NE(last.status().message().find("only enabled node"), std::string::npos)
      << last.status().ToString();
}

}  // namespace
}  // namespace coffer::storage

namespace coffer::storage {
namespace {

// ApplyRemoteBatch: one store write for records received together, with
// the effect of applying them one by one, even when a later record of the
// batch changes what an earlier one wrote (a destroy erasing the material
// of a creation in the same batch).
TEST_F(RemoteApplyTest, ABatchAppliesAsOneByOneDoes) {
  auto c = testing::MakeNode(Backend::kMemEnv, "/c", 3, 3);
  auto one_by_one = testing::MakeNode(Backend::kMemEnv, "/d", 4, 4);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(one_by_one, nullptr);
  auto created = a_->store->Execute(Register(pb::SECRET_DATA, "batch-material"), "a1");
  ASSERT_TRUE(created.ok());
  auto creation = a_->store->ReadLog(1, 1, 1);  // with its material
  ASSERT_TRUE(creation.ok());
  ASSERT_TRUE(a_->store->Execute(Destroy(created->uuid()), "a2").ok());
  ASSERT_TRUE(a_->store->Execute(CreateKey("shared"), "a3").ok());
  ASSERT_TRUE(c->store->Execute(CreateKey("shared"), "c1").ok());
  ASSERT_TRUE(c->store->Execute(WalletCreate("w"), "c2").ok());
  std::vector<pb::LogRecord> batch = {creation->at(0),
                                      LogOf(*a_->store, 1, 2, 1).at(0),
                                      LogOf(*c->store, 3, 1, 1).at(0),
                                      LogOf(*a_->store, 1, 3, 1).at(0),
                                      LogOf(*c->store, 3, 2, 1).at(0),
                                      creation->at(0)};
  ASSERT_FALSE(batch[0].object_created().material().empty());

  auto outcomes = b_->store->ApplyRemoteBatch(batch, Durability::kSync);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), batch.size());
  for (size_t i = 0; i + 1 < batch.size(); ++i) {
    ASSERT_TRUE((*outcomes)[i].ok()) << i << ": " << (*outcomes)[i].status().ToString();
    EXPECT_EQ(*(*outcomes)[i], ApplyOutcome::kApplied) << i;
  }
  EXPECT_EQ(*outcomes->back(), ApplyOutcome::kDuplicate) << "the creation again, in the same batch";
  for (const auto& record : batch) ASSERT_TRUE(one_by_one->store->ApplyRemote(record).ok());

  EXPECT_EQ(b_->store->StateDigest(), one_by_one->store->StateDigest());
  EXPECT_EQ(b_->store->ObjectCount(), one_by_one->store->ObjectCount());
  EXPECT_EQ(b_->store->Applied().at(1), 3u);
  EXPECT_EQ(b_->store->Applied().at(3), 2u);
  auto logged = b_->store->ReadLog(1, 1, 1);
  ASSERT_TRUE(logged.ok());
  EXPECT_TRUE(logged->at(0).object_created().material().empty())
      << "the destroy in the same batch erased the logged material";
  EXPECT_EQ(b_->store->Get(created->uuid(), false)->state(), pb::DESTROYED);
}

// A refused record leaves out the later records of its origin (they would
// follow a gap) and nothing of itself; the other origins' records apply.
TEST_F(RemoteApplyTest, ARefusedRecordInABatchStopsOnlyItsOrigin) {
  auto c = testing::MakeNode(Backend::kMemEnv, "/c", 3, 3);
  ASSERT_NE(c, nullptr);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(a_->store->Execute(CreateKey(), "a" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(c->store->Execute(CreateKey(), "c1").ok());
  auto a_log = LogOf(*a_->store, 1, 1, 3);
  pb::LogRecord tampered = a_log[1];
  tampered.mutable_object_created()->set_material("not the digested material");
  auto before = b_->store->StateDigest();
  std::vector<pb::LogRecord> batch = {a_log[0], tampered, LogOf(*c->store, 3, 1, 1).at(0),
                                      a_log[2]};
  auto outcomes = b_->store->ApplyRemoteBatch(batch, Durability::kSync);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 4u);
  EXPECT_TRUE((*outcomes)[0].ok());
  EXPECT_EQ((*outcomes)[1].status().code(), Code::kInvalidArgument);
  EXPECT_TRUE((*outcomes)[2].ok());
  EXPECT_EQ((*outcomes)[3].status().code(), Code::kUnavailable) << "after a refused record";
  EXPECT_EQ(b_->store->Applied().at(1), 1u);
  EXPECT_EQ(b_->store->Applied().at(3), 1u);
  EXPECT_NE(b_->store->StateDigest(), before);
  EXPECT_EQ(b_->store->ObjectCount(), 2u);
  // The genuine record then applies, and the origin continues.
  for (size_t i = 1; i < 3; ++i) ASSERT_TRUE(b_->store->ApplyRemote(a_log[i]).ok());
  EXPECT_EQ(b_->store->Applied().at(1), 3u);
}

}  // namespace
}  // namespace coffer::storage
