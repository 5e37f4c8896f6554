// Origin authentication in the replicator (record_admission.cc): records go
// to the core only if their origin made them; a record at a seq already
// applied must be the one applied. The fake scheme stands in for ECDSA
// (storage/record_auth_test.cc shows they decide alike).
#include <gtest/gtest.h>

#include "replication/lifecycle_driver.h"
#include "replication/replicator.h"
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
  std::unique_ptr<storage::SignatureVerifier> verifier_ = storage::MakeFakeSignatureVerifier();
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
  replicator_->Receive(1, Batch({unsigned_record}));
  EXPECT_EQ(AppliedOfOne(), before) << "a forged record took origin 1's next seq";
  ASSERT_EQ(alerts_.size(), 3u);
  EXPECT_EQ(replicator_->integrity_alerts(), 3u);
  EXPECT_EQ(alerts_[1].origin, 1u);
  EXPECT_EQ(alerts_[1].seq, genuine.seq());
  EXPECT_EQ(alerts_[1].from, 2u);
  EXPECT_EQ(alerts_[2].reason, "not signed by its origin");

  replicator_->Receive(1, Batch({genuine}));
  EXPECT_EQ(AppliedOfOne(), genuine.seq());
  EXPECT_EQ(two_->store->FindRequest("w-genuine")->has_value(), true);
  EXPECT_EQ(alerts_.size(), 3u);
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

}  // namespace
}  // namespace coffer::replication
