// The record signature contract, run on the real scheme (ECDSA P-256) and the
// simulation's fake: both must accept and refuse the same records.
#include "storage/record_auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>

#include "common/limits.h"
#include "storage/keys.h"
#include "storage/mem_kv_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

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

struct Scheme {
  std::string name;
  std::unique_ptr<RecordSigner> origin;  // node 1
  std::unique_ptr<RecordSigner> other;   // node 2
  std::unique_ptr<SignatureVerifier> verifier;
};

Scheme MakeScheme(bool real) {
  if (!real) {
    return {"fake", MakeFakeRecordSigner(FakePublicKey(1)), MakeFakeRecordSigner(FakePublicKey(2)),
            MakeFakeSignatureVerifier()};
  }
  return {"ecdsa", MakeEcdsaRecordSigner(NewP256KeyPem()).value(),
          MakeEcdsaRecordSigner(NewP256KeyPem()).value(), MakeEcdsaSignatureVerifier()};
}

pb::LogRecord Created(const std::string& material) {
  pb::LogRecord r;
  r.set_origin(1);
  r.set_seq(7);
  r.mutable_hlc()->set_wall_micros(1000);
  r.set_request_id("req");
  r.set_format(kRecordFormatChained);
  r.set_prev_digest(std::string(32, 'p'));
  auto* c = r.mutable_object_created();
  c->set_uuid("0b7e3c1a-0000-4000-8000-000000000001");
  c->set_name("k");
  c->set_material(material);
  if (!material.empty()) c->set_material_digest(MaterialDigest(material));
  c->set_material_length(static_cast<uint32_t>(material.size()));
  (*c->mutable_attributes())["x-b"].set_text("2");
  (*c->mutable_attributes())["x-a"].set_text("1");
  return r;
}

class RecordAuthContract : public ::testing::TestWithParam<bool> {
 protected:
  Scheme s_ = MakeScheme(GetParam());
  bool Authentic(const pb::LogRecord& r, const RecordSigner& by) {
    return SignatureVerifies(r, by.PublicKey(), *s_.verifier);
  }
};

TEST_P(RecordAuthContract, AcceptsWhatTheOriginSignedAndRefusesEveryChange) {
  pb::LogRecord r = Created("secret-material");
  ASSERT_TRUE(SignRecord(*s_.origin, &r).ok());
  EXPECT_TRUE(Authentic(r, *s_.origin));
  EXPECT_FALSE(Authentic(r, *s_.other)) << "another node's key";

  pb::LogRecord tampered = r;
  tampered.mutable_object_created()->set_name("evil");
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "changed content, original signature";
  tampered = r;
  tampered.mutable_object_created()->set_material_digest(MaterialDigest("other-material"));
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "changed material digest";
  tampered = r;
  tampered.set_prev_digest(std::string(32, 'q'));
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "hung on another chain";
  tampered = r;
  tampered.set_seq(8);
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "moved to another seq";
  tampered = r;
  tampered.set_origin(2);
  EXPECT_FALSE(Authentic(tampered, *s_.other)) << "claimed for another origin";
  tampered = r;
  tampered.clear_signature();
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "unsigned";
  EXPECT_FALSE(SignatureVerifies(r, "", *s_.verifier)) << "origin without a key";
  EXPECT_FALSE(SignatureVerifies(r, "not a key", *s_.verifier));

  pb::LogRecord forged = Created("forged");
  ASSERT_TRUE(SignRecord(*s_.other, &forged).ok());  // node 2 signs a record of origin 1
  EXPECT_FALSE(Authentic(forged, *s_.origin));
}

TEST_P(RecordAuthContract, MaterialIsCoveredByItsDigestSoTheErasedCopyVerifies) {
  pb::LogRecord r = Created("secret-material");
  ASSERT_TRUE(SignRecord(*s_.origin, &r).ok());
  EXPECT_TRUE(MaterialMatches(r));
  // One signature: the erased copy (a destroy cleared the material) has the
  // same signed form, so the same signature and chain digest.
  pb::LogRecord erased = r;
  erased.mutable_object_created()->clear_material();
  EXPECT_TRUE(Authentic(erased, *s_.origin));
  EXPECT_EQ(ChainDigest(erased), ChainDigest(r));
  EXPECT_TRUE(MaterialMatches(erased));
  erased.mutable_object_created()->set_stage(pb::STAGE_DESTROYED);
  EXPECT_FALSE(Authentic(erased, *s_.origin));
  // Other material under the same signature: the signature still verifies
  // (it covers the digest), the material does not match the digest.
  pb::LogRecord swapped = r;
  swapped.mutable_object_created()->set_material("other-material");
  EXPECT_FALSE(MaterialMatches(swapped));
}

TEST_P(RecordAuthContract, SealedMaterialIsNotPartOfTheSignedForm) {
  pb::LogRecord r = Created("m");
  ASSERT_TRUE(SignRecord(*s_.origin, &r).ok());
  r.mutable_object_created()->set_sealed_material("node-local ciphertext");
  EXPECT_TRUE(Authentic(r, *s_.origin));
}

INSTANTIATE_TEST_SUITE_P(Schemes, RecordAuthContract, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Ecdsa" : "Fake"; });

TEST(RecordChain, ChainDigestCoversEverySignedFieldButNotTheSignature) {
  pb::LogRecord r = Created("m");
  const std::string d = ChainDigest(r);
  EXPECT_EQ(d.size(), 32u);
  pb::LogRecord other = r;
  other.set_signature("anything");
  EXPECT_EQ(ChainDigest(other), d);
  other = r;
  other.set_prev_digest(std::string(32, 'x'));
  EXPECT_NE(ChainDigest(other), d);
  other = r;
  other.mutable_hlc()->set_logical(1);
  EXPECT_NE(ChainDigest(other), d);
  EXPECT_EQ(ChainStart(), std::string(32, '\0'));
}

TEST(RecordChain, InPlaceFormsEqualTheCopyingOnesAndLeaveTheRecordAsItWas) {
  pb::LogRecord created = Created("material");
  created.set_signature("sig");
  created.mutable_object_created()->set_sealed_material("sealed");
  pb::LogRecord wallet;
  wallet.set_origin(2);
  wallet.set_seq(3);
  wallet.set_signature("sig");
  wallet.mutable_wallet_created()->set_name("w");
  for (const pb::LogRecord& original : {created, wallet}) {
    pb::LogRecord r = original;
    EXPECT_EQ(SignedFormInPlace(&r), SignedForm(original));
    EXPECT_EQ(ChainDigestInPlace(&r), ChainDigest(original));
    EXPECT_EQ(DeterministicBytes(r), DeterministicBytes(original)) << "the record changed";
    EXPECT_EQ(r.body_case(), original.body_case());
  }
}

std::vector<pb::LogRecord> Log(ObjectStore& store, uint32_t origin) {
  return store.ReadLog(origin, 1, 1000).value();
}

TEST(RecordChain, StoreChainsItsRecordsAndSignsTheLastOfEachGroupCommit) {
  auto a = testing::MakeNode(testing::Backend::kMemEnv, "/a", 1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a->store
                    ->Execute(testing::Register(pb::SECRET_DATA, "m" + std::to_string(i)),
                              "g1-" + std::to_string(i), Durability::kAsync)
                    .ok());
  }
  ASSERT_TRUE(a->store->SignChainTip().ok());
  ASSERT_TRUE(
      a->store->Execute(testing::Register(pb::SECRET_DATA, "m3"), "g2", Durability::kAsync).ok());
  ASSERT_TRUE(a->store->SignChainTip().ok());
  ASSERT_TRUE(a->store->SignChainTip().ok());  // nothing new: no-op
  auto log = Log(*a->store, 1);
  ASSERT_EQ(log.size(), 4u);
  auto verifier = MakeFakeSignatureVerifier();
  std::string prev = ChainStart();
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].format(), kRecordFormatChained);
    EXPECT_EQ(log[i].prev_digest(), prev) << "record " << i + 1;
    EXPECT_TRUE(MaterialMatches(log[i]));
    prev = ChainDigest(log[i]);
    const bool tip = i == 2 || i == 3;
    EXPECT_EQ(!log[i].signature().empty(), tip) << "record " << i + 1;
    if (tip) {
      EXPECT_TRUE(SignatureVerifies(log[i], FakePublicKey(1), *verifier));
    }
  }
  EXPECT_EQ(a->store->ChainHead(1), prev);
  // A synced write is a group commit of its own: signed at once.
  ASSERT_TRUE(a->store->Execute(testing::Register(pb::SECRET_DATA, "m4"), "s").ok());
  log = Log(*a->store, 1);
  EXPECT_FALSE(log.back().signature().empty());
  EXPECT_EQ(log.back().prev_digest(), prev);
}

TEST(RecordChain, StoreSignsAtLeastEveryBoundRecords) {
  auto a = testing::MakeNode(testing::Backend::kMemEnv, "/a", 1);
  const size_t n = 2 * limits::kChainSignEveryRecords + 3;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(a->store
                    ->Execute(testing::Register(pb::SECRET_DATA, "m"), "w" + std::to_string(i),
                              Durability::kAsync)
                    .ok());
  }
  auto log = Log(*a->store, 1);
  ASSERT_EQ(log.size(), n);
  size_t run = 0;
  for (const auto& r : log) {
    run = r.signature().empty() ? run + 1 : 0;
    EXPECT_LT(run, limits::kChainSignEveryRecords);
  }
  EXPECT_EQ(run, 3u) << "the tail waits for the group commit's SignChainTip";
}

TEST(RecordChain, DestroyedLogCopyStillChainsAndVerifies) {
  auto a = testing::MakeNode(testing::Backend::kMemEnv, "/a", 1);
  auto created = a->store->Execute(testing::Register(pb::SECRET_DATA, "MARKER-signed"), "c");
  ASSERT_TRUE(created.ok());
  auto before = Log(*a->store, 1);
  ASSERT_TRUE(a->store->Execute(testing::Destroy(created->uuid()), "d").ok());
  auto log = Log(*a->store, 1);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_TRUE(log[0].object_created().material().empty());
  EXPECT_EQ(ChainDigest(log[0]), ChainDigest(before[0]));
  EXPECT_EQ(log[1].prev_digest(), ChainDigest(log[0]));
  auto verifier = MakeFakeSignatureVerifier();
  for (const auto& r : log) EXPECT_TRUE(SignatureVerifies(r, FakePublicKey(1), *verifier));
}

TEST(RecordChain, UnsignedTipLeftByACrashIsSignedAtOpen) {
  auto disk = NewMemKvDisk();
  {
    auto a = testing::MakeNodeOnDisk(disk, 1);
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(
        a->store->Execute(testing::Register(pb::SECRET_DATA, "m"), "w1", Durability::kAsync).ok());
    ASSERT_TRUE(a->store->Sync().ok());  // durable, but its group commit never signed it
    EXPECT_TRUE(Log(*a->store, 1).back().signature().empty());
  }
  ASSERT_TRUE(disk->Crash().ok());
  auto a = testing::MakeNodeOnDisk(disk, 1);
  ASSERT_NE(a, nullptr);
  auto log = Log(*a->store, 1);
  ASSERT_EQ(log.size(), 1u);
  auto verifier = MakeFakeSignatureVerifier();
  EXPECT_TRUE(SignatureVerifies(log[0], FakePublicKey(1), *verifier));
  EXPECT_EQ(a->store->ChainHead(1), ChainDigest(log[0])) << "the head survives the restart";
}

TEST(RecordChain, Format2StoreIsRefusedWithAClearError) {
  auto disk = NewMemKvDisk();
  {
    auto kv = OpenMemKvStore(disk);
    ASSERT_TRUE(kv.ok());
    WriteBatch batch;
    batch.Put(keys::kMetaFormat, "2");
    ASSERT_TRUE((*kv)->Write(batch, /*sync=*/true).ok());
  }
  testing::TestNode node(1);
  auto store = ObjectStore::Open(OpenMemKvStore(disk).value(), *node.root, node.clock, node.rng);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kIncompatibleVersion);
  EXPECT_NE(store.status().message().find("store format 2"), std::string::npos)
      << store.status().ToString();
}

TEST(RecordAuth, EcdsaKeysParseAndRefuseOtherCurves) {
  EXPECT_FALSE(MakeEcdsaRecordSigner("not a key").ok());
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  EXPECT_FALSE(MakeEcdsaRecordSigner(std::string(data, static_cast<size_t>(len))).ok());
  BIO_free(bio);
  EVP_PKEY_free(rsa);
}

// Figures for the report: what one sign, one verify and one chain digest
// cost (a small record), in CPU time of this process (the machine is shared:
// wall time says little).
TEST(RecordAuth, SignAndVerifyCostFigures) {
  for (bool real : {true, false}) {
    Scheme s = MakeScheme(real);
    pb::LogRecord with_material = Created(std::string(32, 'k'));
    pb::LogRecord without = Created("");
    constexpr int kRounds = 2000;
    auto cpu_us = [](std::clock_t from, std::clock_t to) {
      return 1e6 * static_cast<double>(to - from) / CLOCKS_PER_SEC / kRounds;
    };
    std::clock_t t0 = std::clock();
    for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(SignRecord(*s.origin, &without).ok());
    std::clock_t t1 = std::clock();
    for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(SignRecord(*s.origin, &with_material).ok());
    std::clock_t t2 = std::clock();
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_TRUE(SignatureVerifies(without, s.origin->PublicKey(), *s.verifier));
    }
    std::clock_t t3 = std::clock();
    size_t sink = 0;
    for (int i = 0; i < kRounds; ++i) sink += ChainDigest(with_material).size();
    std::clock_t t4 = std::clock();
    ASSERT_EQ(sink, 32u * kRounds);
    std::printf(
        "[ figures ] %s, CPU per record: sign %.1f us (with material: %.1f us), verify %.1f us, "
        "chain digest %.2f us\n",
        s.name.c_str(), cpu_us(t0, t1), cpu_us(t1, t2), cpu_us(t2, t3), cpu_us(t3, t4));
  }
}

}  // namespace
}  // namespace coffer::storage
