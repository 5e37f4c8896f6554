// ObjectStore contract, run on RocksDB on a real directory, on MemEnv and on
// the simulation's MemKvDisk.
#include "storage/object_store.h"

#include <gtest/gtest.h>

#include <set>

#include "storage/keys.h"
#include "storage/mem_kv_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Activate;
using testing::Backend;
using testing::CreateKey;
using testing::Destroy;
using testing::Register;
using testing::Revoke;
using testing::SetBool;
using testing::WalletCreate;

class ObjectStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { Reopen(); }
  // Closes the node and opens it again on the same directory (Disk) or the
  // same simulated disk (SimMem); MemEnv starts empty.
  void Reopen() {
    node_.reset();
    node_ = GetParam() == Backend::kSimMem ? testing::MakeNodeOnDisk(disk_, 1)
                                           : testing::MakeNode(GetParam(), dir_.path() + "/db", 1);
    ASSERT_NE(node_, nullptr);
  }
  ObjectStore& store() { return *node_->store; }
  std::string Exec(const pb::Op& op) {
    auto r = store().Execute(op, "req-" + std::to_string(next_request_++));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->uuid() : "";
  }
  Status ExecStatus(const pb::Op& op) {
    return store().Execute(op, "req-" + std::to_string(next_request_++)).status();
  }

  testing::TempDir dir_;
  std::shared_ptr<MemKvDisk> disk_ = NewMemKvDisk();  // SimMem only
  std::unique_ptr<testing::TestNode> node_;
  int next_request_ = 0;
};

TEST_P(ObjectStoreContract, NewEntitiesGetTimeOrderedUuids) {
  // Version 7 (common/ids.h): an entity made later sorts later, so its rows
  // and index entries go in after the earlier ones' (bench/README.md).
  std::vector<std::string> made;
  for (int i = 0; i < 5; ++i) {
    made.push_back(Exec(CreateKey("k" + std::to_string(i))));
    made.push_back(Exec(Register(pb::SECRET_DATA, "secret", "s" + std::to_string(i))));
    made.push_back(Exec(WalletCreate("w" + std::to_string(i))));
    node_->clock.Advance(1);
  }
  for (size_t i = 0; i < made.size(); ++i) {
    ASSERT_TRUE(Uuid::IsValid(made[i])) << made[i];
    EXPECT_EQ(made[i][14], '7') << made[i];
    if (i > 0 && i % 3 == 0) EXPECT_LT(made[i - 1], made[i]) << "made a microsecond later";
  }
}

TEST_P(ObjectStoreContract, CreateKeyIsPreActiveAes256WithMaterial) {
  std::string uuid = Exec(CreateKey("k1"));
  ASSERT_TRUE(Uuid::IsValid(uuid));
  auto view = store().Get(uuid, true);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->state(), pb::PRE_ACTIVE);
  EXPECT_EQ(view->type(), pb::SYMMETRIC_KEY);
  EXPECT_EQ(view->name(), "k1");
  EXPECT_EQ(view->material().size(), 32u);
  EXPECT_EQ(view->attributes().at("algorithm").text(), "AES");
  EXPECT_EQ(view->attributes().at("length").integer(), 256);
  EXPECT_TRUE(view->attributes().at("extractable").boolean());
  EXPECT_EQ(store().ObjectCount(), 1u);
}

// Issue 11, item 8: a length_bits of 2^32+256 on the wire is refused, not
// truncated to 256 (on main the field was an int32: parsing kept the low 32
// bits and a 256-bit key was created).
TEST_P(ObjectStoreContract, CreateKeyLengthBeyond32BitsIsRefusedNotTruncated) {
  // CreateKeyOp{name = "k", length_bits = 2^32 + 256} as a client sends it:
  // field 3 (varint) = 0x1_0000_0100, field 4 (bytes) = "k".
  const std::string wire("\x18\x80\x82\x80\x80\x10\x22\x01k", 9);
  pb::Op op;
  ASSERT_TRUE(op.mutable_create_key()->ParseFromString(wire));
  EXPECT_EQ(op.create_key().name(), "k");
  Status s = ExecStatus(op);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(store().ObjectCount(), 0u);
  op.mutable_create_key()->set_length_bits(-256);
  EXPECT_EQ(ExecStatus(op).code(), Code::kInvalidArgument);
  op.mutable_create_key()->set_length_bits(192);
  EXPECT_TRUE(ExecStatus(op).ok());
}

TEST_P(ObjectStoreContract, LifecycleFollowsKmipAndTombstoneStays) {
  std::string uuid = Exec(CreateKey());
  Status s = ExecStatus(Destroy(uuid));
  EXPECT_TRUE(s.ok()) << "destroy of a pre-active key is allowed";
  std::string k2 = Exec(CreateKey("", /*activate=*/true));
  s = ExecStatus(Activate(k2));
  EXPECT_EQ(s.code(), Code::kInvalidState);
  EXPECT_NE(s.message().find("ACTIVE"), std::string::npos);
  EXPECT_NE(s.message().find("PRE_ACTIVE"), std::string::npos);
  s = ExecStatus(Destroy(k2));
  EXPECT_EQ(s.code(), Code::kInvalidState) << "an active key must be revoked first";
  ASSERT_TRUE(ExecStatus(Revoke(k2)).ok());
  EXPECT_EQ(store().Get(k2, false)->state(), pb::DEACTIVATED);
  ASSERT_TRUE(ExecStatus(Destroy(k2)).ok());
  auto view = store().Get(k2, false);
  ASSERT_TRUE(view.ok()) << "destroyed objects stay as tombstones";
  EXPECT_EQ(view->state(), pb::DESTROYED);
  EXPECT_TRUE(view->attributes().count("destroy_date"));
  EXPECT_EQ(store().Get(k2, true).status().code(), Code::kInvalidState);
  EXPECT_EQ(ExecStatus(Revoke(k2, pb::KEY_COMPROMISE)).code(), Code::kOk);
  EXPECT_EQ(store().Get(k2, false)->state(), pb::DESTROYED_COMPROMISED);
}

TEST_P(ObjectStoreContract, RetryWithSameRequestIdReturnsOriginalResult) {
  auto first = store().Execute(CreateKey(), "same-id");
  ASSERT_TRUE(first.ok());
  auto digest = store().StateDigest();
  auto second = store().Execute(CreateKey(), "same-id");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->uuid(), second->uuid());
  EXPECT_EQ(store().ObjectCount(), 1u);
  EXPECT_EQ(store().StateDigest(), digest);
  EXPECT_EQ(store().Execute(CreateKey(), "").status().code(), Code::kInvalidArgument);
}

TEST_P(ObjectStoreContract, NamesAreUniqueAmongLiveObjects) {
  std::string first = Exec(CreateKey("db-master"));
  EXPECT_EQ(ExecStatus(CreateKey("db-master")).code(), Code::kAlreadyExists);
  EXPECT_EQ(ExecStatus(WalletCreate("db-master")).code(), Code::kOk) << "kinds are separate";
  ASSERT_TRUE(ExecStatus(Destroy(first)).ok());
  EXPECT_TRUE(ExecStatus(CreateKey("db-master")).ok()) << "a destroyed object frees its name";
  EXPECT_EQ(ExecStatus(CreateKey("bad~name")).code(), Code::kInvalidArgument);
}

TEST_P(ObjectStoreContract, LocateByNameTypeStateAttributeAndTag) {
  std::string key = Exec(CreateKey("alpha", true));
  std::string secret = Exec(Register(pb::SECRET_DATA, "pw", "beta"));
  ASSERT_TRUE(ExecStatus(SetBool(secret, "tag:prod", true)).ok());
  pb::LocateRequest q;
  q.set_name("alpha");
  EXPECT_EQ(store().Locate(q)->size(), 1u);
  EXPECT_EQ(store().Locate(q)->at(0).uuid(), key);
  q.Clear();
  q.set_type(pb::SECRET_DATA);
  ASSERT_EQ(store().Locate(q)->size(), 1u);
  EXPECT_EQ(store().Locate(q)->at(0).uuid(), secret);
  q.Clear();
  q.set_state(pb::ACTIVE);
  ASSERT_EQ(store().Locate(q)->size(), 1u);
  EXPECT_EQ(store().Locate(q)->at(0).uuid(), key);
  q.Clear();
  (*q.mutable_attributes())["tag:prod"] = "true";
  ASSERT_EQ(store().Locate(q)->size(), 1u);
  EXPECT_EQ(store().Locate(q)->at(0).uuid(), secret);
  q.Clear();
  (*q.mutable_attributes())["length"] = "256";
  q.set_state(pb::PRE_ACTIVE);
  EXPECT_EQ(store().Locate(q)->size(), 0u) << "criteria combine with AND";
  q.Clear();
  EXPECT_EQ(store().Locate(q)->size(), 2u);
  q.set_limit(1);
  EXPECT_EQ(store().Locate(q)->size(), 1u);
  // After a state change the state index moves with it.
  ASSERT_TRUE(ExecStatus(Revoke(key)).ok());
  q.Clear();
  q.set_state(pb::ACTIVE);
  EXPECT_EQ(store().Locate(q)->size(), 0u);
}

TEST_P(ObjectStoreContract, LocateDestroyedFindsDestroyedCompromisedToo) {
  std::string destroyed = Exec(CreateKey());
  ASSERT_TRUE(ExecStatus(Destroy(destroyed)).ok());
  std::string compromised = Exec(CreateKey());
  ASSERT_TRUE(ExecStatus(Revoke(compromised, pb::KEY_COMPROMISE)).ok());
  ASSERT_TRUE(ExecStatus(Destroy(compromised)).ok());
  ASSERT_EQ(store().Get(compromised, false)->state(), pb::DESTROYED_COMPROMISED);
  Exec(CreateKey());  // live: found by neither
  pb::LocateRequest q;
  q.set_state(pb::DESTROYED);
  auto found = store().Locate(q);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  std::set<std::string> uuids;
  for (const auto& v : *found) uuids.insert(v.uuid());
  EXPECT_EQ(uuids, (std::set<std::string>{destroyed, compromised}));
  EXPECT_LT(found->at(0).uuid(), found->at(1).uuid()) << "in uuid order";
  q.set_limit(1);
  EXPECT_EQ(store().Locate(q)->size(), 1u);
  q.set_limit(0);
  q.set_type(pb::SYMMETRIC_KEY);  // the type index, filtered by state
  EXPECT_EQ(store().Locate(q)->size(), 2u);
  q.Clear();
  q.set_state(pb::DESTROYED_COMPROMISED);
  ASSERT_EQ(store().Locate(q)->size(), 1u);
  EXPECT_EQ(store().Locate(q)->at(0).uuid(), compromised);
}

TEST_P(ObjectStoreContract, NonExtractableMaterialIsNeverServed) {
  pb::Op op = CreateKey();
  (*op.mutable_create_key()->mutable_attributes())["extractable"].set_boolean(false);
  std::string uuid = Exec(op);
  EXPECT_EQ(store().Get(uuid, true).status().code(), Code::kPermissionDenied);
  EXPECT_TRUE(store().Get(uuid, false).ok());
  EXPECT_EQ(ExecStatus(SetBool(uuid, "extractable", true)).code(), Code::kPermissionDenied);
  // Even on an extractable object "true" is refused after creation: a
  // concurrent true must never win over another node's false.
  std::string other = Exec(CreateKey());
  EXPECT_EQ(ExecStatus(SetBool(other, "extractable", true)).code(), Code::kPermissionDenied);
  EXPECT_TRUE(ExecStatus(SetBool(other, "extractable", false)).ok());
}

TEST_P(ObjectStoreContract, BadAttributesAreRefusedWithoutChange) {
  std::string uuid = Exec(CreateKey());
  auto digest = store().StateDigest();
  pb::Op op;
  op.mutable_set_attributes()->set_uuid(uuid);
  (*op.mutable_set_attributes()->mutable_attributes())["algorithm"].set_text("DES");
  EXPECT_EQ(ExecStatus(op).code(), Code::kInvalidArgument);
  op.mutable_set_attributes()->mutable_attributes()->clear();
  (*op.mutable_set_attributes()->mutable_attributes())["x-bad name"].set_text("v");
  EXPECT_EQ(ExecStatus(op).code(), Code::kInvalidArgument);
  op.mutable_set_attributes()->mutable_attributes()->clear();
  (*op.mutable_set_attributes()->mutable_attributes())["usage_mask"].set_text("lots");
  EXPECT_EQ(ExecStatus(op).code(), Code::kInvalidArgument);
  EXPECT_EQ(ExecStatus(SetBool("not-a-uuid", "tag:x", true)).code(), Code::kInvalidArgument);
  EXPECT_EQ(ExecStatus(SetBool("aaaaaaaa-0000-4000-8000-000000000000", "tag:x", true)).code(),
            Code::kNotFound);
  EXPECT_EQ(ExecStatus(Register(pb::SECRET_DATA, std::string(70000, 'x'))).code(),
            Code::kResourceExhausted);
  EXPECT_EQ(ExecStatus(pb::Op()).code(), Code::kInvalidArgument);
  EXPECT_EQ(store().StateDigest(), digest);
}

TEST_P(ObjectStoreContract, WalletsAndEndpoints) {
  std::string key = Exec(CreateKey());
  std::string wallet = Exec(WalletCreate("payroll"));
  auto view = store().GetWallet("payroll");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->state(), "ACTIVE") << "a single node confirms names at once";
  pb::Op add;
  add.mutable_wallet_member()->set_wallet("payroll");
  add.mutable_wallet_member()->set_object(key);
  add.mutable_wallet_member()->set_present(true);
  ASSERT_TRUE(ExecStatus(add).ok());
  EXPECT_EQ(ExecStatus(add).code(), Code::kAlreadyExists);
  EXPECT_EQ(store().GetWallet(wallet)->members_size(), 1);
  add.mutable_wallet_member()->set_present(false);
  ASSERT_TRUE(ExecStatus(add).ok());
  EXPECT_EQ(ExecStatus(add).code(), Code::kNotFound);
  EXPECT_EQ(store().GetWallet(wallet)->members_size(), 0);
  add.mutable_wallet_member()->set_wallet("nope");
  EXPECT_EQ(ExecStatus(add).code(), Code::kNotFound);

  pb::Op endpoint;
  endpoint.mutable_endpoint_create()->set_name("db01");
  std::string ep = Exec(endpoint);
  pb::Op grant;
  grant.mutable_endpoint_grant()->set_endpoint("db01");
  grant.mutable_endpoint_grant()->set_wallet("payroll");
  grant.mutable_endpoint_grant()->set_access(pb::ACCESS_READ_MODIFY);
  ASSERT_TRUE(ExecStatus(grant).ok());
  auto endpoints = store().ListEndpoints();
  ASSERT_TRUE(endpoints.ok());
  ASSERT_EQ(endpoints->size(), 1u);
  EXPECT_EQ(endpoints->at(0).uuid(), ep);
  ASSERT_EQ(endpoints->at(0).grants_size(), 1);
  EXPECT_EQ(endpoints->at(0).grants(0).wallet_name(), "payroll");
  EXPECT_EQ(endpoints->at(0).grants(0).access(), pb::ACCESS_READ_MODIFY);
}

TEST_P(ObjectStoreContract, LogNeverHoldsPlaintextAndReadLogReturnsIt) {
  const std::string marker = "MARKER-7f3a9c-plaintext";
  std::string uuid = Exec(Register(pb::SECRET_DATA, marker));
  auto records = store().ReadLog(1, 1, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->at(0).object_created().material(), marker);
  // Raw rows: no marker anywhere.
  auto snapshot = store().NewSnapshot();
  bool seen = false;
  ASSERT_TRUE(snapshot
                  ->ForEachObject([&](const pb::StoredObject& o, const SecretBytes& m) {
                    EXPECT_EQ(o.SerializeAsString().find(marker), std::string::npos);
                    seen = m.reveal() == marker;
                    return true;
                  })
                  .ok());
  EXPECT_TRUE(seen) << "a snapshot opens material for transfer";
}

// Disk only: an in-memory Env lives only as long as its store.
TEST(HlcRestartTest, StampsStayAboveObservedRemoteStampsAfterRestart) {
  testing::TempDir dir;
  auto a = testing::MakeNode(Backend::kMemEnv, "/hlc-a", 1, 1);
  a->clock.Advance(400'000);  // A's clock runs 400 ms ahead (within the max offset)
  auto remote = a->store->Execute(CreateKey(), "ahead");
  ASSERT_TRUE(remote.ok());
  pb::LogRecord record = a->store->ReadLog(1, 1, 1)->at(0);
  {
    auto b = testing::MakeNode(Backend::kDisk, dir.path() + "/b", 2, 2);
    ASSERT_TRUE(b->store->ApplyRemote(record).ok());
  }
  auto b = testing::MakeNode(Backend::kDisk, dir.path() + "/b", 2, 2);  // fresh clock, behind A
  ASSERT_TRUE(b->store->Execute(CreateKey(), "after-restart").ok());
  pb::LogRecord own = b->store->ReadLog(2, 1, 1)->at(0);
  EXPECT_GT(std::make_pair(own.hlc().wall_micros(), own.hlc().logical()),
            std::make_pair(record.hlc().wall_micros(), record.hlc().logical()));
}

class DiskObjectStoreTest : public ObjectStoreContract {};

TEST_P(DiskObjectStoreTest, StateSurvivesReopen) {
  std::string uuid = Exec(Register(pb::SECRET_DATA, "s3cret", "app-secret"));
  auto digest = store().StateDigest();
  auto applied = store().Applied();
  HlcStamp before{node_->clock.WallMicros(), 0};
  Reopen();
  EXPECT_EQ(store().StateDigest(), digest);
  EXPECT_EQ(store().Applied(), applied);
  EXPECT_EQ(store().ObjectCount(), 1u);
  EXPECT_EQ(store().Get(uuid, true)->material(), "s3cret");
  // The wall clock of the reopened node starts far in the past; stamps still grow.
  node_->clock.SetWall(before.wall_micros - 10'000'000);
  std::string second = Exec(CreateKey());
  auto records = store().ReadLog(1, 1, 10);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_GT(records->at(1).hlc().wall_micros(), records->at(0).hlc().wall_micros() - 1);
  EXPECT_TRUE(std::make_pair(records->at(1).hlc().wall_micros(), records->at(1).hlc().logical()) >
              std::make_pair(records->at(0).hlc().wall_micros(), records->at(0).hlc().logical()));
}

TEST_P(ObjectStoreContract, SnapshotIsConsistent) {
  std::string one = Exec(CreateKey("one"));
  std::string wallet = Exec(WalletCreate("w"));
  pb::Op add;
  add.mutable_wallet_member()->set_wallet(wallet);
  add.mutable_wallet_member()->set_object(one);
  add.mutable_wallet_member()->set_present(true);
  Exec(add);
  auto snapshot = store().NewSnapshot();
  Exec(CreateKey("two"));
  add.mutable_wallet_member()->set_present(false);
  Exec(add);
  int members = 0;
  ASSERT_TRUE(snapshot
                  ->ForEachMember(
                      [&](const std::string& w, const std::string& o, const pb::StoredMember& m) {
                        EXPECT_EQ(w, wallet);
                        EXPECT_EQ(o, one);
                        EXPECT_TRUE(m.present()) << "the removal came after the snapshot";
                        ++members;
                        return true;
                      })
                  .ok());
  EXPECT_EQ(members, 1);
  int objects = 0;
  ASSERT_TRUE(snapshot
                  ->ForEachObject([&](auto&, auto&) {
                    ++objects;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(objects, 1);
  ASSERT_TRUE(snapshot->Applied().ok());
  EXPECT_EQ(snapshot->Applied()->at(1), 3u);
  EXPECT_EQ(store().Applied().at(1), 5u);
}

INSTANTIATE_TEST_SUITE_P(Disk, DiskObjectStoreTest,
                         ::testing::Values(Backend::kDisk, Backend::kSimMem),
                         [](const auto& info) { return testing::BackendName(info.param); });
INSTANTIATE_TEST_SUITE_P(Backends, ObjectStoreContract,
                         ::testing::Values(Backend::kDisk, Backend::kMemEnv, Backend::kSimMem),
                         [](const auto& info) { return testing::BackendName(info.param); });

// ---- A crash of a simulated node ----

// A synced creation, then a second one with the parameter's durability, then a
// crash of the node's disk and a reopen.
class CrashTest : public ::testing::TestWithParam<Durability> {};

TEST_P(CrashTest, WriteSurvivesOnlyIfSyncedAndStoreReopensConsistent) {
  auto disk = NewMemKvDisk();
  auto node = testing::MakeNodeOnDisk(disk, 1);
  ASSERT_NE(node, nullptr);
  auto first = node->store->Execute(CreateKey("first"), "r1", Durability::kSync);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const Digest digest_after_first = node->store->StateDigest();
  const VersionVector applied_after_first = node->store->Applied();
  auto second =
      node->store->Execute(Register(pb::SECRET_DATA, "s3cret", "second"), "r2", GetParam());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const Digest digest_after_second = node->store->StateDigest();
  const VersionVector applied_after_second = node->store->Applied();
  ASSERT_NE(digest_after_first, digest_after_second);

  node.reset();
  ASSERT_TRUE(disk->Crash().ok());
  node = testing::MakeNodeOnDisk(disk, 1, /*seed=*/2);  // a restarted node draws new uuids
  ASSERT_NE(node, nullptr) << "the store opens cleanly after a crash";
  ObjectStore& store = *node->store;
  auto recomputed = store.RecomputeDigest();
  ASSERT_TRUE(recomputed.ok()) << recomputed.status().ToString();
  EXPECT_EQ(*recomputed, store.StateDigest());
  EXPECT_TRUE(store.Get(first->uuid(), false).ok()) << "a synced write survives";

  if (GetParam() == Durability::kAsync) {
    EXPECT_EQ(disk->unsynced_writes_lost(), 1u);
    EXPECT_EQ(store.Get(second->uuid(), false).status().code(), Code::kNotFound);
    EXPECT_EQ(store.Applied(), applied_after_first);
    EXPECT_EQ(store.StateDigest(), digest_after_first);
    EXPECT_EQ(store.ObjectCount(), 1u);
    EXPECT_EQ(store.ReadLog(1, 1, 10)->size(), 1u) << "the log record went with its effect";
    pb::LocateRequest by_name;
    by_name.set_name("second");
    EXPECT_TRUE(store.Locate(by_name)->empty()) << "and so did the name claim";
    // The request id went too: a retry executes again and takes the lost seq.
    auto retried = store.Execute(Register(pb::SECRET_DATA, "s3cret", "second"), "r2");
    ASSERT_TRUE(retried.ok()) << retried.status().ToString();
    EXPECT_NE(retried->uuid(), second->uuid());
    EXPECT_EQ(store.Applied().at(1), 2u);
    EXPECT_EQ(*store.RecomputeDigest(), store.StateDigest());
  } else {
    EXPECT_EQ(disk->unsynced_writes_lost(), 0u);
    auto view = store.Get(second->uuid(), true);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_EQ(view->material(), "s3cret");
    EXPECT_EQ(store.Applied(), applied_after_second);
    EXPECT_EQ(store.StateDigest(), digest_after_second);
    EXPECT_EQ(store.ObjectCount(), 2u);
    auto retried = store.Execute(Register(pb::SECRET_DATA, "s3cret", "second"), "r2");
    ASSERT_TRUE(retried.ok());
    EXPECT_EQ(retried->uuid(), second->uuid()) << "an acknowledged request id survives";
  }
}

INSTANTIATE_TEST_SUITE_P(Durabilities, CrashTest,
                         ::testing::Values(Durability::kAsync, Durability::kSync),
                         [](const auto& info) {
                           return info.param == Durability::kAsync ? "Async" : "Sync";
                         });

}  // namespace
}  // namespace coffer::storage
