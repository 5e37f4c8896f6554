// Figures, not a check of behaviour: the CPU cost per record of origin
// authentication with the real scheme (ECDSA P-256), by group-commit size.
// A group of 1 signs and verifies every record: what issue 11's scheme cost
// (one signature per record); larger groups show the chain's saving.
//   coffer_replication_test --gtest_filter=AdmissionCost.*
// CPU time of this process (the machine is shared: wall time says little).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>

#include "replication/chain_admission.h"
#include "replication/lifecycle_driver.h"
#include "replication/replicator.h"
#include "storage/test_util.h"

namespace coffer::replication {
namespace {

using storage::Durability;

class NullTransport final : public Transport {
 public:
  void Send(uint32_t, const pb::ReplicationMessage&) override {}
};

std::string NewP256KeyPem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

struct EcdsaNode {
  ManualClock clock;
  SeededRng rng{1};
  std::unique_ptr<storage::RootOfTrust> root = storage::testing::FastRootOfTrust();
  std::unique_ptr<storage::RecordSigner> signer;
  std::unique_ptr<storage::ObjectStore> store;
};

std::unique_ptr<EcdsaNode> MakeEcdsaNode(uint32_t id, const std::string& path) {
  auto node = std::make_unique<EcdsaNode>();
  node->signer = storage::MakeEcdsaRecordSigner(NewP256KeyPem()).value();
  storage::ObjectStoreOptions options;
  options.node_id = NodeId{id};
  options.signer = node->signer.get();
  node->store = storage::ObjectStore::Open(
                    storage::testing::OpenKvStore(storage::testing::Backend::kMemEnv, path).value(),
                    *node->root, node->clock, node->rng, options)
                    .value();
  return node;
}

pb::Op RegisterSecret(int i) {
  pb::Op op;
  op.mutable_register_object()->set_type(pb::SECRET_DATA);
  op.mutable_register_object()->set_material(std::string(256, static_cast<char>('a' + i % 26)));
  return op;
}

double CpuMicros(std::clock_t from, std::clock_t to) {
  return 1e6 * static_cast<double>(to - from) / CLOCKS_PER_SEC;
}

TEST(AdmissionCost, PerRecordByGroupCommitSize) {
  constexpr int kRecords = 1024;
  for (int group : {1, 16, 64}) {
    // The origin: cluster init, node 2 added, then group commits of
    // `group` 256-byte secrets (the last of each synced, so signed).
    auto origin = MakeEcdsaNode(1, "/origin" + std::to_string(group));
    pb::Op init;
    init.mutable_cluster_init()->set_name("c");
    init.mutable_cluster_init()->set_node_name("n1");
    ASSERT_TRUE(origin->store->Execute(init, "init").ok());
    pb::Op add;
    add.mutable_node_add()->set_name("n2");
    add.mutable_node_add()->set_role(pb::NODE_READ_ONLY);
    add.mutable_node_add()->set_public_key("unused");
    ASSERT_TRUE(origin->store->Execute(add, "add").ok());
    const uint64_t setup = origin->store->Applied().at(1);
    std::clock_t t0 = std::clock();
    for (int w = 0; w < kRecords; ++w) {
      ASSERT_TRUE(origin->store
                      ->Execute(RegisterSecret(w), "w" + std::to_string(w),
                                (w + 1) % group == 0 ? Durability::kSync : Durability::kAsync)
                      .ok());
    }
    std::clock_t t1 = std::clock();
    auto log = origin->store->ReadLog(1, 1, setup + kRecords).value();
    ASSERT_EQ(log.size(), setup + kRecords);
    std::vector<pb::ReplicationMessage> batches;
    for (size_t at = setup; at < log.size(); at += static_cast<size_t>(group)) {
      pb::ReplicationMessage m;
      for (size_t i = at; i < at + static_cast<size_t>(group); ++i) {
        *m.mutable_records()->add_records() = log[i];
      }
      batches.push_back(std::move(m));
    }

    // A receiver: admission alone (ChainAdmission), then the replicator's
    // whole receive path (admission, apply, one sync per batch).
    auto receiver = MakeEcdsaNode(2, "/receiver" + std::to_string(group));
    for (uint64_t i = 0; i < setup; ++i) ASSERT_TRUE(receiver->store->ApplyRemote(log[i]).ok());
    auto verifier = storage::MakeEcdsaSignatureVerifier();
    const std::string origin_key = origin->signer->PublicKey();
    ChainAdmission admission(*receiver->store);
    size_t admitted = 0;
    std::clock_t t2 = std::clock();
    for (const auto& m : batches) {
      auto result = admission.Admit(1, m.records(), *verifier,
                                    [&](uint32_t) -> const std::string& { return origin_key; });
      ASSERT_TRUE(result.refused.empty()) << result.refused.front().reason;
      admitted += result.admitted.size();
    }
    std::clock_t t3 = std::clock();
    ASSERT_EQ(admitted, static_cast<size_t>(kRecords));

    NullTransport transport;
    Replicator replicator(*receiver->store, CoreMembers(*receiver->store->Members()), CoreOptions{},
                          transport, receiver->clock);
    replicator.SetSignatureVerifier(verifier.get());
    std::clock_t t4 = std::clock();
    for (const auto& m : batches) replicator.Receive(1, m);
    std::clock_t t5 = std::clock();
    ASSERT_EQ(receiver->store->Applied().at(1), setup + kRecords);
    EXPECT_EQ(replicator.integrity_alerts(), 0u);
    std::printf(
        "[ figures ] ecdsa, group commits of %2d: origin execute %.1f us/record, admission %.1f "
        "us/record, receive (admit + apply + sync) %.1f us/record\n",
        group, CpuMicros(t0, t1) / kRecords, CpuMicros(t2, t3) / kRecords,
        CpuMicros(t4, t5) / kRecords);
  }
}

}  // namespace
}  // namespace coffer::replication
