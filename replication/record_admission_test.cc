// Origin authentication in the replicator (record_admission.cc,
// chain_admission.h): records go to the core only once a signature of their
// origin vouches for them through the hash chain; a record at a seq already
// applied must be the one applied. The fake scheme stands in for ECDSA
// (storage/record_auth_test.cc shows they decide alike).
#include <gtest/gtest.h>

#include "common/limits.h"
#include "replication/lifecycle_driver.h"
#include "replication/replicator.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::replication {
namespace {

class NullTransport final : public Transport {
 public:
  void Send(uint32_t, const pb::ReplicationMessage&) override {}
};

pb::ReplicationMessage Batch(const std::vector<pb::LogRecord>& records) {
  pb::ReplicationMessage m;
  for (const auto& r : records) *m.mutable_records()->add_records() = r;
  return m;
}

// The fake scheme, counting the signatures it checks.
class CountingVerifier final : public storage::SignatureVerifier {
 public:
  bool Verify(std::string_view public_key, std::string_view message,
              std::string_view signature) override {
    ++checks;
    return fake_->Verify(public_key, message, signature);
  }
  int checks = 0;

 private:
  std::unique_ptr<storage::SignatureVerifier> fake_ = storage::MakeFakeSignatureVerifier();
};

// Node 1 founds the cluster and adds node 2; node 2 runs a replicator.
class RecordAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pb::Op init;
    init.mutable_cluster_init()->set_name("c");
    init.mutable_cluster_init()->set_node_name("n1");
    ASSERT_TRUE(one_->store->Execute(init, "init").ok());
    pb::Op add;
    add.mutable_node_add()->set_name("n2");
    add.mutable_node_add()->set_role(pb::NODE_READ_ONLY);
    add.mutable_node_add()->set_public_key(storage::FakePublicKey(2));
    ASSERT_TRUE(one_->store->Execute(add, "add").ok());
    auto log = one_->store->ReadLog(1, 1, 10);
    ASSERT_TRUE(log.ok());
    for (const auto& r : *log) {
      auto applied = two_->store->ApplyRemote(r);
      ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    }
    replicator_ = std::make_unique<Replicator>(*two_->store, CoreMembers(*two_->store->Members()),
                                               CoreOptions{}, transport_, two_->clock);
    replicator_->SetSignatureVerifier(verifier_.get());
    replicator_->SetIntegrityAlertObserver(
        [this](const IntegrityAlert& a) { alerts_.push_back(a); });
  }

  pb::LogRecord NextOfOne(const std::string& wallet) {
    pb::Op op;
    op.mutable_wallet_create()->set_name(wallet);
    EXPECT_TRUE(one_->store->Execute(op, "w-" + wallet).ok());
    uint64_t seq = one_->store->Applied().at(1);
    return one_->store->ReadLog(1, seq, 1)->front();
  }
  uint64_t AppliedOfOne() { return two_->store->Applied().at(1); }

  std::unique_ptr<storage::testing::TestNode> one_ =
      storage::testing::MakeNode(storage::testing::Backend::kMemEnv, "/one", 1);
  std::unique_ptr<storage::testing::TestNode> two_ =
      storage::testing::MakeNode(storage::testing::Backend::kMemEnv, "/two", 2);
  std::unique_ptr<CountingVerifier> verifier_ = std::make_unique<CountingVerifier>();
  NullTransport transport_;
  std::unique_ptr<Replicator> replicator_;
  std::vector<IntegrityAlert> alerts_;
};

TEST_F(RecordAdmissionTest, ForgedRecordAtTheNextSeqIsRefusedAndTheGenuineOneApplied) {
  pb::LogRecord genuine = NextOfOne("genuine");
  const uint64_t before = AppliedOfOne();

  pb::LogRecord tampered = genuine;  // changed content, original signature
  tampered.mutable_wallet_created()->set_name("forged");
  pb::LogRecord by_two = tampered;  // signed by node 2 for origin 1
  ASSERT_TRUE(storage::SignRecord(*two_->signer, &by_two).ok());
  pb::LogRecord unsigned_record = tampered;
  unsigned_record.clear_signature();
  replicator_->Receive(1, Batch({tampered}));
  replicator_->Receive(2, Batch({by_two}));
  replicator_->Receive(3, Batch({unsigned_record}));
  EXPECT_EQ(AppliedOfOne(), before) << "a forged record took origin 1's next seq";
  ASSERT_EQ(alerts_.size(), 2u);
  EXPECT_EQ(replicator_->integrity_alerts(), 2u);
  EXPECT_EQ(alerts_[1].origin, 1u);
  EXPECT_EQ(alerts_[1].seq, genuine.seq());
  EXPECT_EQ(alerts_[1].from, 2u);
  EXPECT_EQ(alerts_[1].reason, "signature does not verify with the origin's key");
  // Unsigned: it waits for a signature that chains to it, which never comes.
  EXPECT_EQ(replicator_->unvouched_records(), 1u);

  replicator_->Receive(1, Batch({genuine}));
  EXPECT_EQ(AppliedOfOne(), genuine.seq());
  EXPECT_EQ(two_->store->FindRequest("w-genuine")->has_value(), true);
  EXPECT_EQ(alerts_.size(), 2u);
}

TEST_F(RecordAdmissionTest, RecordAtAnAppliedSeqMustBeTheOneApplied) {
  pb::LogRecord genuine = NextOfOne("genuine");
  replicator_->Receive(1, Batch({genuine}));
  ASSERT_EQ(AppliedOfOne(), genuine.seq());
  replicator_->Receive(1, Batch({genuine}));  // a plain duplicate
  EXPECT_TRUE(alerts_.empty());

  pb::LogRecord changed = genuine;
  changed.mutable_wallet_created()->set_name("other");
  replicator_->Receive(1, Batch({changed}));
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].reason, "differs from the record applied at this seq");
  EXPECT_EQ(two_->store->GetWallet("genuine")->name(), "genuine");
}

TEST_F(RecordAdmissionTest, CopyWithoutItsSignatureIsTheSameRecord) {
  pb::LogRecord genuine = NextOfOne("genuine");
  replicator_->Receive(1, Batch({genuine}));
  ASSERT_EQ(AppliedOfOne(), genuine.seq());
  pb::LogRecord stripped = genuine;  // as a relay may carry it
  stripped.clear_signature();
  replicator_->Receive(1, Batch({stripped}));
  EXPECT_TRUE(alerts_.empty()) << alerts_.front().ToString();
}

TEST_F(RecordAdmissionTest, RecordOfAnOriginWithoutAKnownKeyWaitsWithoutAnAlert) {
  auto three = storage::testing::MakeNode(storage::testing::Backend::kMemEnv, "/three", 3);
  pb::Op op;
  op.mutable_wallet_create()->set_name("from-three");
  ASSERT_TRUE(three->store->Execute(op, "w3").ok());
  replicator_->Receive(1, Batch({three->store->ReadLog(3, 1, 1)->front()}));
  EXPECT_FALSE(two_->store->Applied().contains(3));
  EXPECT_TRUE(alerts_.empty());
  EXPECT_EQ(replicator_->unverified_records(), 1u);
}

// Found by simulation seed 3106: a node that lacked the last record of a node
// force-deleted meanwhile dropped every copy the others sent (the deleted
// node's key was no longer looked up), and never converged.
TEST_F(RecordAdmissionTest, RecordsOfADeletedOriginStillReachNodesThatLackThem) {
  auto three = storage::testing::MakeNode(storage::testing::Backend::kMemEnv, "/three", 3);
  pb::Op add;
  add.mutable_node_add()->set_name("n3");
  add.mutable_node_add()->set_role(pb::NODE_READ_ONLY);
  add.mutable_node_add()->set_public_key(storage::FakePublicKey(3));
  ASSERT_TRUE(one_->store->Execute(add, "add-3").ok());
  pb::Op wallet;
  wallet.mutable_wallet_create()->set_name("from-three");
  ASSERT_TRUE(three->store->Execute(wallet, "w3").ok());
  pb::Op force_delete;
  force_delete.mutable_node_delete()->set_node_id(3);
  force_delete.mutable_node_delete()->set_force(true);
  ASSERT_TRUE(one_->store->Execute(force_delete, "delete-3").ok());
  // Node 2 learns of node 3 and of its deletion before node 3's record.
  const uint64_t applied = AppliedOfOne();
  replicator_->Receive(1, Batch(*one_->store->ReadLog(1, applied + 1, 10)));
  ASSERT_EQ(AppliedOfOne(), one_->store->Applied().at(1));

  replicator_->Receive(1, Batch({three->store->ReadLog(3, 1, 1)->front()}));
  EXPECT_EQ(two_->store->Applied()[3], 1u) << "a copy of a deleted origin's record was dropped";
  EXPECT_TRUE(alerts_.empty());
  EXPECT_EQ(replicator_->unverified_records(), 0u);
}

// Origin 1 makes `n` records in one group commit (only the last signed).
std::vector<pb::LogRecord> GroupOfOne(storage::ObjectStore& store, const std::string& tag, int n) {
  for (int i = 0; i < n; ++i) {
    pb::Op op;
    op.mutable_wallet_create()->set_name(tag + std::to_string(i));
    EXPECT_TRUE(store.Execute(op, tag + std::to_string(i), storage::Durability::kAsync).ok());
  }
  EXPECT_TRUE(store.SignChainTip().ok());
  uint64_t last = store.Applied().at(1);
  return *store.ReadLog(1, last - static_cast<uint64_t>(n) + 1, static_cast<size_t>(n));
}

TEST_F(RecordAdmissionTest, UnsignedRunWaitsUntilASignedRecordChainsToIt) {
  auto run = GroupOfOne(*one_->store, "g", 3);
  ASSERT_TRUE(run[0].signature().empty());
  ASSERT_FALSE(run[2].signature().empty());
  const uint64_t before = AppliedOfOne();
  replicator_->Receive(1, Batch({run[0], run[1]}));
  EXPECT_EQ(AppliedOfOne(), before) << "applied before a signature vouched for them";
  EXPECT_EQ(replicator_->unvouched_records(), 2u);
  replicator_->Receive(1, Batch({run[2]}));
  EXPECT_EQ(AppliedOfOne(), run[2].seq());
  EXPECT_EQ(replicator_->unvouched_records(), 0u);
  EXPECT_TRUE(alerts_.empty());
}

TEST_F(RecordAdmissionTest, ForgedUnsignedRecordInTheMiddleOfAChainIsRefused) {
  auto run = GroupOfOne(*one_->store, "g", 3);
  const uint64_t before = AppliedOfOne();
  pb::LogRecord forged = run[1];
  forged.mutable_wallet_created()->set_name("forged");
  replicator_->Receive(3, Batch({run[0], forged, run[2]}));
  EXPECT_EQ(AppliedOfOne(), before);
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].seq, run[2].seq());
  EXPECT_EQ(alerts_[0].reason, "does not chain to its origin's previous record");
  // Forged and re-chained (the next record's prev_digest rewritten): the
  // signature over the signed record no longer verifies.
  pb::LogRecord rechained = run[2];
  rechained.set_prev_digest(storage::ChainDigest(forged));
  replicator_->Receive(3, Batch({run[0], forged, rechained}));
  EXPECT_EQ(AppliedOfOne(), before);
  ASSERT_EQ(alerts_.size(), 2u);
  EXPECT_EQ(alerts_[1].reason, "signature does not verify with the origin's key");
  // The genuine chain from an honest node goes in.
  replicator_->Receive(1, Batch(run));
  EXPECT_EQ(AppliedOfOne(), run[2].seq());
  EXPECT_EQ(two_->store->GetWallet("g1")->name(), "g1");
}

TEST_F(RecordAdmissionTest, ReorderedPairIsRefused) {
  auto run = GroupOfOne(*one_->store, "g", 2);
  const uint64_t before = AppliedOfOne();
  replicator_->Receive(3, Batch({run[1], run[0]}));
  EXPECT_EQ(AppliedOfOne(), before);
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].reason,
            "not in seq order within its batch (after " + std::to_string(run[1].seq()) + ")");
  // Renumbered so the seqs look right: the chain does not.
  pb::LogRecord first = run[1], second = run[0];
  first.set_seq(run[0].seq());
  second.set_seq(run[1].seq());
  replicator_->Receive(3, Batch({first, second}));
  EXPECT_EQ(AppliedOfOne(), before);
  ASSERT_EQ(alerts_.size(), 2u);
  EXPECT_EQ(alerts_[1].reason, "does not chain to its origin's previous record");
  replicator_->Receive(1, Batch(run));
  EXPECT_EQ(AppliedOfOne(), run[1].seq());
}

TEST_F(RecordAdmissionTest, TruncatedChainIsNeverAdmittedUntilItsSignedRecordComes) {
  auto run = GroupOfOne(*one_->store, "g", 3);
  const uint64_t before = AppliedOfOne();
  replicator_->Receive(1, Batch({run[0], run[1]}));
  pb::LogRecord stripped = run[2];
  stripped.clear_signature();
  replicator_->Receive(1, Batch({stripped}));
  EXPECT_EQ(AppliedOfOne(), before) << "a run without its signature was admitted";
  EXPECT_TRUE(alerts_.empty());
  EXPECT_EQ(replicator_->unvouched_records(), 3u);
  replicator_->Receive(1, Batch({run[2]}));  // the signed copy, same record
  EXPECT_EQ(AppliedOfOne(), run[2].seq());
  EXPECT_TRUE(alerts_.empty());
}

TEST_F(RecordAdmissionTest, RunLongerThanAnOriginSignsIsRefused) {
  const int n = static_cast<int>(limits::kMaxUnvouchedRecords) + 1;
  auto run = GroupOfOne(*one_->store, "g", n);
  for (auto& r : run) r.clear_signature();
  replicator_->Receive(3, Batch(run));
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].seq, run.back().seq());
  EXPECT_EQ(replicator_->unvouched_records(), 0u);
}

TEST_F(RecordAdmissionTest, CreationMaterialMustMatchItsDigestAndAMissingOneIsCounted) {
  auto created = one_->store->Execute(storage::testing::Register(pb::SECRET_DATA, "m"), "c");
  ASSERT_TRUE(created.ok());
  pb::LogRecord record = one_->store->ReadLog(1, one_->store->Applied().at(1), 1)->front();
  ASSERT_FALSE(record.object_created().material().empty());
  const uint64_t before = AppliedOfOne();
  pb::LogRecord other_material = record;
  other_material.mutable_object_created()->set_material("not the origin's");
  replicator_->Receive(1, Batch({other_material}));
  EXPECT_EQ(AppliedOfOne(), before);
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].reason, "its material does not match its material digest");
  // The erased form (as a node that destroyed the object relays it) has the
  // same signed form: admitted, and counted while not destroyed here.
  pb::LogRecord erased = record;
  erased.mutable_object_created()->clear_material();
  replicator_->Receive(1, Batch({erased}));
  EXPECT_EQ(AppliedOfOne(), record.seq());
  EXPECT_EQ(replicator_->withheld_material_records(), 1u);
  EXPECT_EQ(alerts_.size(), 1u);
}

// Groups of origin 1, one after the other, each of `sizes[i]` records with
// only its last signed, as one list.
std::vector<pb::LogRecord> GroupsOfOne(storage::ObjectStore& store, std::vector<int> sizes) {
  std::vector<pb::LogRecord> all;
  for (size_t g = 0; g < sizes.size(); ++g) {
    auto group = GroupOfOne(store, "g" + std::to_string(g) + "-", sizes[g]);
    all.insert(all.end(), group.begin(), group.end());
  }
  return all;
}

// Whether node 2's log copy of origin 1's record `seq` carries a signature.
bool SignedInLogOfTwo(storage::ObjectStore& store, uint64_t seq) {
  return !store.ReadLog(1, seq, 1)->front().signature().empty();
}

TEST_F(RecordAdmissionTest, SeveralSignedRunsInOneBatchCostOneSignatureCheck) {
  auto records = GroupsOfOne(*one_->store, {3, 3, 3});
  ASSERT_FALSE(records[2].signature().empty());
  ASSERT_FALSE(records[5].signature().empty());
  replicator_->Receive(1, Batch(records));
  EXPECT_EQ(AppliedOfOne(), records.back().seq());
  EXPECT_TRUE(alerts_.empty());
  EXPECT_EQ(verifier_->checks, 1) << "each group's signature was checked";
  // The signatures this node did not check are not passed on as if it had.
  EXPECT_FALSE(SignedInLogOfTwo(*two_->store, records[2].seq()));
  EXPECT_FALSE(SignedInLogOfTwo(*two_->store, records[5].seq()));
  EXPECT_TRUE(SignedInLogOfTwo(*two_->store, records[8].seq()));
}

TEST_F(RecordAdmissionTest, AnEarlierSignatureIsKeptAndCheckedWhereTheRunBoundNeedsIt) {
  // Without the first group's signature, the stretch to the next would be
  // 200 + 100 records: more than a receiver of this node's copy holds.
  auto records = GroupsOfOne(*one_->store, {200, 100});
  const pb::LogRecord& first_tip = records[199];
  ASSERT_FALSE(first_tip.signature().empty());
  replicator_->Receive(1, Batch(records));
  EXPECT_EQ(AppliedOfOne(), records.back().seq());
  EXPECT_TRUE(alerts_.empty()) << alerts_.front().ToString();
  EXPECT_EQ(verifier_->checks, 2);
  EXPECT_TRUE(SignedInLogOfTwo(*two_->store, first_tip.seq()));
}

TEST_F(RecordAdmissionTest, AForgedEarlierSignatureThatTheRunBoundNeedsRefusesTheRun) {
  auto records = GroupsOfOne(*one_->store, {200, 100});
  const uint64_t before = AppliedOfOne();
  std::vector<pb::LogRecord> forged = records;
  forged[199].set_signature("not the origin's");
  replicator_->Receive(3, Batch(forged));
  EXPECT_EQ(AppliedOfOne(), before);
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].seq, records.back().seq());
  EXPECT_EQ(alerts_[0].reason,
            "an earlier signature in its run does not verify with the origin's key");
  replicator_->Receive(1, Batch(records));  // an honest node's copy goes in
  EXPECT_EQ(AppliedOfOne(), records.back().seq());
}

TEST_F(RecordAdmissionTest, AForgedEarlierSignatureThatIsNotNeededIsNotPassedOn) {
  // The chain proves the record is the origin's; its signature bytes are
  // not, and this node's copy must not carry them.
  auto records = GroupsOfOne(*one_->store, {3, 3});
  records[2].set_signature("not the origin's");
  replicator_->Receive(1, Batch(records));
  EXPECT_EQ(AppliedOfOne(), records.back().seq());
  EXPECT_TRUE(alerts_.empty());
  EXPECT_FALSE(SignedInLogOfTwo(*two_->store, records[2].seq()));
}

}  // namespace
}  // namespace coffer::replication

namespace coffer::replication {
namespace {

// A record the store refuses leaves its origin's later records of the batch
// out: one apply error, with the refusal's own code (the records left out
// behind it must not hide it).
TEST_F(RecordAdmissionTest, AStoreRefusalCountsOnceWithItsOwnCode) {
  pb::LogRecord bad = NextOfOne("bad");
  bad.mutable_wallet_created()->set_uuid("not-a-uuid");
  pb::LogRecord next = NextOfOne("next");
  const uint64_t before = AppliedOfOne();
  // Without a verifier records go to the core unchecked (protocol tests), so
  // the store is the one that refuses.
  Replicator unchecked(*two_->store, CoreMembers(*two_->store->Members()), CoreOptions{},
                       transport_, two_->clock);
  unchecked.EnableGroupCommit();  // no sync here: what is counted is the apply
  unchecked.Receive(1, Batch({bad, next}));
  EXPECT_EQ(unchecked.apply_errors(), 1u) << unchecked.last_apply_error().ToString();
  EXPECT_EQ(unchecked.last_apply_error().code(), Code::kInvalidArgument)
      << unchecked.last_apply_error().ToString();
  EXPECT_EQ(AppliedOfOne(), before);
}

}  // namespace
}  // namespace coffer::replication

namespace coffer::replication {
namespace {

// A record in a format above this binary's (a newer release wrote it) is
// never skipped: it is refused with an alert, and its origin's later records
// wait behind it until this node reads that format.
TEST_F(RecordAdmissionTest, ARecordInANewerFormatStopsItsOriginWithAnAlert) {
  pb::Op op;
  op.mutable_register_object()->set_type(pb::SECRET_DATA);
  op.mutable_register_object()->set_material("m");
  op.mutable_register_object()->set_comment("written by a newer release");
  ASSERT_TRUE(one_->store->Execute(op, "newer").ok());
  const uint64_t seq = one_->store->Applied().at(1);
  pb::LogRecord newer = one_->store->ReadLog(1, seq, 1)->front();
  ASSERT_EQ(newer.format(), storage::kRecordFormatObjectComment);
  ASSERT_GT(newer.format(), two_->store->max_record_format());
  pb::LogRecord later = NextOfOne("after-the-newer-one");
  const uint64_t before = AppliedOfOne();
  replicator_->Receive(1, Batch({newer, later}));
  EXPECT_EQ(AppliedOfOne(), before) << "nothing of origin 1 is applied past the newer record";
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].seq, newer.seq());
  const std::string expected =
      "record format " + std::to_string(storage::kRecordFormatObjectComment) +
      " is newer than this binary reads (" + std::to_string(storage::kRecordFormat) + ")";
  EXPECT_NE(alerts_[0].reason.find(expected), std::string::npos) << alerts_[0].reason;
}

}  // namespace
}  // namespace coffer::replication
