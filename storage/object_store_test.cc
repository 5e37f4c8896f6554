// ObjectStore contract, run on RocksDB on a real directory, on MemEnv and on
// the simulation's MemKvDisk.
#include "storage/object_store.h"

#include <gtest/gtest.h>

#include <set>

#include "storage/keys.h"
#include "storage/mem_kv_store.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

using testing::Backend;

pb::Op CreateKey(const std::string& name = "", bool activate = false) {
  pb::Op op;
  op.mutable_create_key()->set_name(name);
  op.mutable_create_key()->set_activate(activate);
  return op;
}
pb::Op Register(pb::ObjectType type, const std::string& material, const std::string& name = "") {
  pb::Op op;
  op.mutable_register_object()->set_type(type);
  op.mutable_register_object()->set_material(material);
  op.mutable_register_object()->set_name(name);
  return op;
}
pb::Op Activate(const std::string& uuid) {
  pb::Op op;
  op.mutable_activate()->set_uuid(uuid);
  return op;
}
pb::Op Revoke(const std::string& uuid, pb::RevocationReason reason = pb::CESSATION_OF_OPERATION) {
  pb::Op op;
  op.mutable_revoke()->set_uuid(uuid);
  op.mutable_revoke()->set_reason(reason);
  return op;
}
pb::Op Destroy(const std::string& uuid) {
  pb::Op op;
  op.mutable_destroy()->set_uuid(uuid);
  return op;
}
pb::Op SetBool(const std::string& uuid, const std::string& name, bool value) {
  pb::Op op;
  op.mutable_set_attributes()->set_uuid(uuid);
  (*op.mutable_set_attributes()->mutable_attributes())[name].set_boolean(value);
  return op;
}
pb::Op WalletCreate(const std::string& name) {
  pb::Op op;
  op.mutable_wallet_create()->set_name(name);
  return op;
}

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

// ---- Remote records ----

// A copy of one origin's records (a range-for over *ReadLog() would dangle).
std::vector<pb::LogRecord> LogOf(const ObjectStore& store, uint32_t origin, uint64_t from,
                                 size_t limit) {
  auto records = store.ReadLog(origin, from, limit);
  EXPECT_TRUE(records.ok()) << records.status().ToString();
  return records.ok() ? *records : std::vector<pb::LogRecord>{};
}

class RemoteApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = testing::MakeNode(Backend::kMemEnv, "/a", 1, 1);
    b_ = testing::MakeNode(Backend::kMemEnv, "/b", 2, 2);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }
  std::unique_ptr<testing::TestNode> a_, b_;
};

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
  EXPECT_EQ(log->at(0).object_created().stage(), pb::STAGE_DESTROYED);
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
  EXPECT_EQ(logged[0].object_created().stage(), pb::STAGE_DESTROYED);
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

// ---- Integrity and the root of trust (disk) ----

class IntegrityTest : public ::testing::Test {
 protected:
  std::string path() { return dir_.path() + "/db"; }
  // Rewrites one object row directly in RocksDB.
  void RewriteRow(const std::string& uuid, const std::function<void(pb::StoredObject&)>& change) {
    auto kv = OpenRocksKvStore({path()});
    ASSERT_TRUE(kv.ok());
    std::string value;
    ASSERT_TRUE((*kv)->Get(keys::Object(uuid), &value).ok());
    pb::StoredObject o;
    ASSERT_TRUE(o.ParseFromString(value));
    change(o);
    WriteBatch batch;
    batch.Put(keys::Object(uuid), o.SerializeAsString());
    ASSERT_TRUE((*kv)->Write(batch, true).ok());
  }
  std::string SealedOf(const std::string& uuid) {
    auto kv = OpenRocksKvStore({path()});
    std::string value;
    EXPECT_TRUE((*kv)->Get(keys::Object(uuid), &value).ok());
    pb::StoredObject o;
    o.ParseFromString(value);
    return o.sealed_material();
  }
  testing::TempDir dir_;
};

TEST_F(IntegrityTest, FlippedByteIsDataLossNeverServed) {
  std::string uuid;
  {
    auto node = testing::MakeNode(Backend::kDisk, path(), 1);
    uuid = node->store->Execute(Register(pb::SECRET_DATA, "payload"), "r")->uuid();
  }
  RewriteRow(uuid, [](pb::StoredObject& o) {
    std::string sealed = o.sealed_material();
    sealed[sealed.size() / 2] ^= 0x01;
    o.set_sealed_material(sealed);
  });
  auto node = testing::MakeNode(Backend::kDisk, path(), 1);
  auto got = node->store->Get(uuid, true);
  EXPECT_EQ(got.status().code(), Code::kDataLoss);
  EXPECT_TRUE(node->store->Get(uuid, false).ok()) << "metadata stays readable";
}

TEST_F(IntegrityTest, CiphertextMovedToAnotherObjectIsDataLoss) {
  std::string a, b;
  {
    auto node = testing::MakeNode(Backend::kDisk, path(), 1);
    a = node->store->Execute(Register(pb::SECRET_DATA, "aaaa"), "ra")->uuid();
    b = node->store->Execute(Register(pb::SECRET_DATA, "bbbb"), "rb")->uuid();
  }
  std::string sealed_a = SealedOf(a);
  RewriteRow(b, [&](pb::StoredObject& o) { o.set_sealed_material(sealed_a); });
  auto node = testing::MakeNode(Backend::kDisk, path(), 1);
  EXPECT_EQ(node->store->Get(b, true).status().code(), Code::kDataLoss);
  EXPECT_EQ(node->store->Get(a, true)->material(), "aaaa");
}

TEST_F(IntegrityTest, WrongPassphraseIsRefused) {
  { ASSERT_NE(testing::MakeNode(Backend::kDisk, path(), 1), nullptr); }
  auto kv = OpenRocksKvStore({path()});
  ASSERT_TRUE(kv.ok());
  ManualClock clock;
  SeededRng rng(1);
  auto wrong = testing::FastRootOfTrust("another passphrase");
  auto store = ObjectStore::Open(std::move(kv).value(), *wrong, clock, rng);
  EXPECT_EQ(store.status().code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace coffer::storage

namespace coffer::storage {
namespace {

// ---- Induction: snapshot export and install ----

class SnapshotInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = testing::MakeNode(Backend::kSimMem, "", 1, 1);
    c_disk_ = NewMemKvDisk();
    c_ = testing::MakeNodeOnDisk(c_disk_, 3, 3);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(c_, nullptr);
    auto& s = *a_->store;
    ASSERT_TRUE(s.Execute(ClusterInitOp("prod", "alpha"), "init").ok());
    key_ = s.Execute(CreateKeyOp("k1"), "k1")->uuid();
    secret_ = s.Execute(RegisterOp(pb::SECRET_DATA, "s3cret-material", "app-pw"), "s1")->uuid();
    std::string doomed = s.Execute(RegisterOp(pb::SECRET_DATA, "gone", ""), "s2")->uuid();
    pb::Op destroy;
    destroy.mutable_destroy()->set_uuid(doomed);
    ASSERT_TRUE(s.Execute(destroy, "d1").ok());
    pb::Op wallet;
    wallet.mutable_wallet_create()->set_name("payroll");
    ASSERT_TRUE(s.Execute(wallet, "w1").ok());
    pb::Op add;
    add.mutable_wallet_member()->set_wallet("payroll");
    add.mutable_wallet_member()->set_object(secret_);
    add.mutable_wallet_member()->set_present(true);
    ASSERT_TRUE(s.Execute(add, "m1").ok());
    pb::Op endpoint;
    endpoint.mutable_endpoint_create()->set_name("db01");
    ASSERT_TRUE(s.Execute(endpoint, "e1").ok());
    pb::Op grant;
    grant.mutable_endpoint_grant()->set_endpoint("db01");
    grant.mutable_endpoint_grant()->set_wallet("payroll");
    grant.mutable_endpoint_grant()->set_access(pb::ACCESS_READ_ONLY);
    ASSERT_TRUE(s.Execute(grant, "g1").ok());
  }

  static pb::Op ClusterInitOp(const std::string& name, const std::string& node) {
    pb::Op op;
    op.mutable_cluster_init()->set_name(name);
    op.mutable_cluster_init()->set_node_name(node);
    return op;
  }
  static pb::Op CreateKeyOp(const std::string& name) {
    pb::Op op;
    op.mutable_create_key()->set_name(name);
    return op;
  }
  static pb::Op RegisterOp(pb::ObjectType type, const std::string& material,
                           const std::string& name) {
    pb::Op op;
    op.mutable_register_object()->set_type(type);
    op.mutable_register_object()->set_material(material);
    op.mutable_register_object()->set_name(name);
    return op;
  }

  // Transfers a snapshot of a_ to c_ in chunks of `chunk_size`; stops after
  // `stop_after` chunks (to simulate an interrupted transfer).
  Status Transfer(const StoreSnapshot& snapshot, size_t chunk_size, int stop_after = 1000) {
    auto resume = c_->store->InstallResumePoint();
    if (!resume.ok()) return resume.status();
    std::string after = resume->value_or("");
    for (int i = 0; i < stop_after; ++i) {
      auto chunk = snapshot.ReadChunk(after, chunk_size);
      if (!chunk.ok()) return chunk.status();
      COFFER_RETURN_IF_ERROR(c_->store->InstallSnapshotChunk(*chunk));
      if (chunk->last()) return Status::Ok();
      after = chunk->resume_after();
    }
    return Unavailable("stopped");
  }

  std::unique_ptr<testing::TestNode> a_, c_;
  std::shared_ptr<MemKvDisk> c_disk_;
  std::string key_, secret_;
};

TEST_F(SnapshotInstallTest, InstalledNodeHasTheSameStateAndContinuesFromTheLog) {
  auto snapshot = a_->store->NewSnapshot();
  ASSERT_TRUE(Transfer(*snapshot, 3).ok());
  auto& c = *c_->store;
  EXPECT_EQ(c.StateDigest(), a_->store->StateDigest());
  EXPECT_EQ(*c.RecomputeDigest(), c.StateDigest());
  EXPECT_EQ(c.Applied(), a_->store->Applied());
  EXPECT_EQ(c.ObjectCount(), a_->store->ObjectCount());
  EXPECT_EQ(c.Get(secret_, true)->material(), "s3cret-material") << "re-sealed under C's key";
  EXPECT_EQ((*c.Cluster())->name(), "prod");
  EXPECT_EQ(c.Members()->size(), 1u);
  EXPECT_EQ(c.GetWallet("payroll")->members_size(), 1);
  EXPECT_EQ(c.ListEndpoints()->at(0).grants_size(), 1);
  pb::LocateRequest by_name;
  by_name.set_name("k1");
  EXPECT_EQ(c.Locate(by_name)->at(0).uuid(), key_) << "name index rebuilt";
  auto retry = c.FindRequest("s1");
  ASSERT_TRUE(retry.ok() && retry->has_value());
  EXPECT_EQ((*retry)->result.uuid(), secret_) << "request ids travel with the snapshot";
  // Writes after the snapshot arrive through the log, from its position on.
  uint64_t position = a_->store->Applied().at(1);
  pb::Op activate;
  activate.mutable_activate()->set_uuid(key_);
  ASSERT_TRUE(a_->store->Execute(activate, "act").ok());
  auto later = a_->store->ReadLog(1, position + 1, 10);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  for (const auto& r : *later) {
    auto applied = c.ApplyRemote(r);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }
  EXPECT_EQ(c.StateDigest(), a_->store->StateDigest());
  EXPECT_EQ(c.Get(key_, false)->state(), pb::ACTIVE);
}

TEST_F(SnapshotInstallTest, InterruptedInstallResumesWhereItStopped) {
  auto snapshot = a_->store->NewSnapshot();
  EXPECT_EQ(Transfer(*snapshot, 2, /*stop_after=*/3).code(), Code::kUnavailable);
  // The candidate crashes and restarts mid-install.
  c_.reset();
  ASSERT_TRUE(c_disk_->Crash().ok());
  c_ = testing::MakeNodeOnDisk(c_disk_, 3, 4);
  ASSERT_NE(c_, nullptr);
  auto resume = c_->store->InstallResumePoint();
  ASSERT_TRUE(resume.ok() && resume->has_value()) << "three chunks were installed";
  ASSERT_TRUE(Transfer(*snapshot, 2).ok());
  EXPECT_EQ(c_->store->StateDigest(), a_->store->StateDigest());
  EXPECT_FALSE(c_->store->InstallResumePoint()->has_value());
}

// A controller that restarts mid-transfer: its snapshot is a checkpoint on
// disk, reopened by the restarted store, and the candidate continues from
// the chunk it had installed. Writes made after the checkpoint are not in it.
TEST_F(SnapshotInstallTest, CheckpointSnapshotSurvivesTheControllersRestart) {
  testing::TempDir dir;
  auto controller = testing::MakeNode(Backend::kDisk, dir.path() + "/db", 1, 7);
  ASSERT_NE(controller, nullptr);
  ASSERT_TRUE(controller->store->Execute(ClusterInitOp("prod", "alpha"), "init").ok());
  for (int i = 0; i < 20; ++i) {
    std::string name = "k" + std::to_string(i);
    ASSERT_TRUE(controller->store->Execute(CreateKeyOp(name), name).ok());
  }
  const std::string checkpoint = dir.path() + "/induction-3";
  ASSERT_TRUE(controller->store->CheckpointTo(checkpoint).ok());
  const Digest at_checkpoint = controller->store->StateDigest();
  const VersionVector applied_at_checkpoint = controller->store->Applied();
  ASSERT_TRUE(controller->store->Execute(CreateKeyOp("later"), "later").ok());
  {
    auto snapshot = controller->store->OpenSnapshotAt(checkpoint);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    EXPECT_EQ(Transfer(**snapshot, 4, /*stop_after=*/2).code(), Code::kUnavailable);
  }
  // The controller restarts (its process, hence its store, goes away).
  controller.reset();
  controller = testing::MakeNode(Backend::kDisk, dir.path() + "/db", 1, 7);
  ASSERT_NE(controller, nullptr);
  auto resume = c_->store->InstallResumePoint();
  ASSERT_TRUE(resume.ok() && resume->has_value()) << "two chunks were installed";
  auto reopened = controller->store->OpenSnapshotAt(checkpoint);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  ASSERT_TRUE(Transfer(**reopened, 4).ok());
  EXPECT_EQ(c_->store->StateDigest(), at_checkpoint);
  EXPECT_EQ(c_->store->Applied(), applied_at_checkpoint);
  EXPECT_NE(c_->store->StateDigest(), controller->store->StateDigest()) << "'later' comes by log";
  EXPECT_EQ(controller->store->OpenSnapshotAt(dir.path() + "/none").status().code(),
            Code::kNotFound);
}

TEST_F(SnapshotInstallTest, DamagedChunkFailsItsChecksumAndInstallsNothing) {
  auto snapshot = a_->store->NewSnapshot();
  auto chunk = snapshot->ReadChunk("", 1000);
  ASSERT_TRUE(chunk.ok() && chunk->last());
  EXPECT_EQ(chunk->checksum(), SnapshotChunkChecksum(*chunk));
  pb::SnapshotChunk damaged = *chunk;
  for (auto& entry : *damaged.mutable_entries()) {
    if (entry.has_wallet()) entry.mutable_wallet()->set_description("flipped on the way");
  }
  Status refused = c_->store->InstallSnapshotChunk(damaged);
  EXPECT_EQ(refused.code(), Code::kDataLoss);
  EXPECT_NE(refused.message().find("checksum"), std::string::npos) << refused.ToString();
  EXPECT_TRUE(c_->store->Applied().empty());
  EXPECT_FALSE(c_->store->InstallResumePoint()->has_value()) << "not even started";
  // The undamaged chunk then installs.
  EXPECT_TRUE(c_->store->InstallSnapshotChunk(*chunk).ok());
  EXPECT_EQ(c_->store->StateDigest(), a_->store->StateDigest());
}

TEST_F(SnapshotInstallTest, DamagedTransferIsDataLossAndNothingIsMarkedApplied) {
  auto snapshot = a_->store->NewSnapshot();
  auto chunk = snapshot->ReadChunk("", 1000);
  ASSERT_TRUE(chunk.ok() && chunk->last());
  // Damage that passes the chunk checksum (computed over the damaged bytes):
  // the final digest check still catches it.
  for (auto& entry : *chunk->mutable_entries()) {
    if (entry.has_wallet()) entry.mutable_wallet()->set_description("tampered");
  }
  chunk->set_checksum(SnapshotChunkChecksum(*chunk));
  EXPECT_EQ(c_->store->InstallSnapshotChunk(*chunk).code(), Code::kDataLoss);
  EXPECT_TRUE(c_->store->Applied().empty());
}

TEST_F(SnapshotInstallTest, OnlyAFreshNodeAcceptsASnapshot) {
  auto snapshot = a_->store->NewSnapshot();
  auto chunk = snapshot->ReadChunk("", 1000);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(a_->store->InstallSnapshotChunk(*chunk).code(), Code::kInvalidState);
  pb::SnapshotChunk out_of_order = *chunk;
  out_of_order.set_after("O/zzz");
  out_of_order.set_checksum(SnapshotChunkChecksum(out_of_order));
  EXPECT_EQ(c_->store->InstallSnapshotChunk(out_of_order).code(), Code::kInvalidState);
}

}  // namespace
}  // namespace coffer::storage
