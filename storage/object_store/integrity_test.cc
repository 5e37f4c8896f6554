// Integrity: damaged material and a wrong passphrase (rows rewritten in
// RocksDB on disk), and damaged rows in general, which are an error the caller
// sees (DATA_LOSS), never skipped or read as absent (rows planted on a
// MemKvDisk or in a checkpoint directory).
#include <gtest/gtest.h>

#include <functional>
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
using testing::Register;

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

// ---- Damaged rows ----

// Bytes that do not parse as any message: a length-delimited field 1 whose
// declared length (5) runs past the end.
const std::string kUnparseable(
    "\x0a\x05"
    "ab",
    4);

class CorruptRowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = testing::MakeNodeOnDisk(disk_, 1);
    ASSERT_NE(node_, nullptr);
  }
  std::string Exec(const pb::Op& op) {
    auto r = node_->store->Execute(op, "req-" + std::to_string(next_request_++));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->uuid() : "";
  }
  // An endpoint "db01" granted read access to wallet "payroll".
  void MakeGrant() {
    pb::Op wallet;
    wallet.mutable_wallet_create()->set_name("payroll");
    wallet_ = Exec(wallet);
    pb::Op endpoint;
    endpoint.mutable_endpoint_create()->set_name("db01");
    endpoint_ = Exec(endpoint);
    pb::Op grant;
    grant.mutable_endpoint_grant()->set_endpoint("db01");
    grant.mutable_endpoint_grant()->set_wallet("payroll");
    grant.mutable_endpoint_grant()->set_access(pb::ACCESS_READ_ONLY);
    Exec(grant);
  }
  // Plant, then reopen the store (null if it refuses to open).
  void PlantAndReopen(const std::string& key, const std::string& value) {
    Plant(key, value);
    node_ = testing::MakeNodeOnDisk(disk_, 1);
  }
  // Closes the store and writes `key` = `value` on its disk (synced).
  void Plant(const std::string& key, const std::string& value) {
    node_.reset();
    auto kv = OpenMemKvStore(disk_);
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    WriteBatch batch;
    batch.Put(key, value);
    ASSERT_TRUE((*kv)->Write(batch, /*sync=*/true).ok());
  }
  // The status of opening a store on the disk (after Plant: no store open).
  Status OpenStatus() {
    auto kv = OpenMemKvStore(disk_);
    if (!kv.ok()) return kv.status();
    ManualClock clock;
    SeededRng rng(1);
    auto root = testing::FastRootOfTrust();
    return ObjectStore::Open(std::move(kv).value(), *root, clock, rng).status();
  }

  std::shared_ptr<MemKvDisk> disk_ = NewMemKvDisk();
  std::unique_ptr<testing::TestNode> node_;
  std::string wallet_, endpoint_;
  int next_request_ = 0;
};

TEST_F(CorruptRowTest, GrantRowThatDoesNotParseIsDataLoss) {
  MakeGrant();
  ASSERT_EQ(node_->store->ListEndpoints()->at(0).grants_size(), 1);
  PlantAndReopen(keys::Grant(endpoint_, wallet_), kUnparseable);
  ASSERT_NE(node_, nullptr);
  auto endpoints = node_->store->ListEndpoints();
  EXPECT_EQ(endpoints.status().code(), Code::kDataLoss)
      << "a damaged grant must not read as no grant";
}

TEST_F(CorruptRowTest, GrantedWalletRowThatDoesNotParseIsDataLoss) {
  MakeGrant();
  ASSERT_EQ(node_->store->ListEndpoints()->at(0).grants(0).wallet_name(), "payroll");
  PlantAndReopen(keys::Wallet(wallet_), kUnparseable);
  ASSERT_NE(node_, nullptr);
  auto endpoints = node_->store->ListEndpoints();
  EXPECT_EQ(endpoints.status().code(), Code::kDataLoss)
      << "a damaged wallet must not read as a grant without a wallet name";
}

TEST_F(CorruptRowTest, GrantArrivingBeforeItsWalletIsListedWithoutAWalletName) {
  pb::Op endpoint;
  endpoint.mutable_endpoint_create()->set_name("db01");
  endpoint_ = Exec(endpoint);
  // Another origin granted access to a wallet whose creation is not here yet.
  const std::string absent_wallet = "aaaaaaaa-0000-4000-8000-000000000001";
  pb::LogRecord grant;
  grant.set_origin(2);
  grant.set_seq(1);
  grant.set_format(1);
  grant.mutable_hlc()->set_wall_micros(node_->clock.WallMicros());
  grant.mutable_grant_set()->set_endpoint(endpoint_);
  grant.mutable_grant_set()->set_wallet(absent_wallet);
  grant.mutable_grant_set()->set_access(pb::ACCESS_READ_ONLY);
  ASSERT_TRUE(node_->store->ApplyRemote(grant).ok());
  auto endpoints = node_->store->ListEndpoints();
  ASSERT_TRUE(endpoints.ok()) << endpoints.status().ToString();
  ASSERT_EQ(endpoints->at(0).grants_size(), 1);
  EXPECT_EQ(endpoints->at(0).grants(0).wallet(), absent_wallet);
  EXPECT_EQ(endpoints->at(0).grants(0).wallet_name(), "");
}

TEST_F(CorruptRowTest, MalformedAppliedRowRefusesToOpen) {
  Exec(CreateKey());
  // Read as absent, the origin would start again at seq 1 and reuse seqs.
  Plant(keys::Applied(1), "abc");  // not a be64
  EXPECT_EQ(OpenStatus().code(), Code::kDataLoss);
}

TEST_F(CorruptRowTest, MalformedObjectCountRefusesToOpen) {
  Exec(CreateKey());
  Plant(std::string(keys::kMetaObjectCount), "abc");
  EXPECT_EQ(OpenStatus().code(), Code::kDataLoss);
}

// A checkpoint's applied vector is read when its snapshot's last chunk is
// made: a damaged row fails the chunk instead of marking less applied.
TEST(CorruptCheckpointTest, MalformedAppliedRowFailsTheSnapshot) {
  testing::TempDir dir;
  auto node = testing::MakeNode(Backend::kDisk, dir.path() + "/db", 1);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->store->Execute(CreateKey(), "k1").ok());
  const std::string checkpoint = dir.path() + "/checkpoint";
  ASSERT_TRUE(node->store->CheckpointTo(checkpoint).ok());
  {
    auto intact = node->store->OpenSnapshotAt(checkpoint);
    ASSERT_TRUE(intact.ok()) << intact.status().ToString();
    ASSERT_TRUE((*intact)->Applied().ok());
    EXPECT_EQ((*intact)->Applied()->at(1), 1u);
  }
  {
    RocksOptions options;
    options.path = checkpoint;
    auto kv = OpenRocksKvStore(options);
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    WriteBatch batch;
    batch.Put(keys::Applied(1), "abc");  // not a be64
    ASSERT_TRUE((*kv)->Write(batch, /*sync=*/true).ok());
  }
  auto damaged = node->store->OpenSnapshotAt(checkpoint);
  ASSERT_TRUE(damaged.ok()) << damaged.status().ToString();
  EXPECT_EQ((*damaged)->Applied().status().code(), Code::kDataLoss);
  EXPECT_EQ((*damaged)->ReadChunk("", 1000).status().code(), Code::kDataLoss);
}

}  // namespace
}  // namespace coffer::storage
