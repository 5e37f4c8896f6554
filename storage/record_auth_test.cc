// The record signature contract, run on the real scheme (ECDSA P-256) and the
// simulation's fake: both must accept and refuse the same records.
#include "storage/record_auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>

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
  r.set_format(2);
  auto* c = r.mutable_object_created();
  c->set_uuid("0b7e3c1a-0000-4000-8000-000000000001");
  c->set_name("k");
  c->set_material(material);
  c->set_material_length(static_cast<uint32_t>(material.size()));
  (*c->mutable_attributes())["x-b"].set_text("2");
  (*c->mutable_attributes())["x-a"].set_text("1");
  return r;
}

class RecordAuthContract : public ::testing::TestWithParam<bool> {
 protected:
  Scheme s_ = MakeScheme(GetParam());
  bool Authentic(const pb::LogRecord& r, const RecordSigner& by) {
    return IsAuthentic(r, by.PublicKey(), *s_.verifier);
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
  tampered.mutable_object_created()->set_material("other-material");
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "changed material";
  tampered = r;
  tampered.set_seq(8);
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "moved to another seq";
  tampered = r;
  tampered.set_origin(2);
  EXPECT_FALSE(Authentic(tampered, *s_.other)) << "claimed for another origin";
  tampered = r;
  tampered.clear_signature();
  EXPECT_FALSE(Authentic(tampered, *s_.origin)) << "unsigned";
  EXPECT_FALSE(IsAuthentic(r, "", *s_.verifier)) << "origin without a key";
  EXPECT_FALSE(IsAuthentic(r, "not a key", *s_.verifier));

  pb::LogRecord forged = Created("forged");
  ASSERT_TRUE(SignRecord(*s_.other, &forged).ok());  // node 2 signs a record of origin 1
  EXPECT_FALSE(Authentic(forged, *s_.origin));
}

TEST_P(RecordAuthContract, ErasedMaterialStillVerifiesButNothingElseMayChange) {
  pb::LogRecord r = Created("secret-material");
  ASSERT_TRUE(SignRecord(*s_.origin, &r).ok());
  EXPECT_FALSE(r.erased_signature().empty());
  pb::LogRecord erased = r;
  erased.mutable_object_created()->clear_material();
  EXPECT_TRUE(Authentic(erased, *s_.origin));
  erased.mutable_object_created()->set_stage(pb::STAGE_DESTROYED);
  EXPECT_FALSE(Authentic(erased, *s_.origin));
  // The erased signature never vouches for material.
  pb::LogRecord swapped = r;
  swapped.set_signature(r.erased_signature());
  swapped.mutable_object_created()->set_material("x");
  EXPECT_FALSE(Authentic(swapped, *s_.origin));
  // A record without material carries only the one signature.
  pb::LogRecord plain = Created("");
  ASSERT_TRUE(SignRecord(*s_.origin, &plain).ok());
  EXPECT_TRUE(plain.erased_signature().empty());
  EXPECT_TRUE(Authentic(plain, *s_.origin));
}

TEST_P(RecordAuthContract, SealedMaterialIsNotPartOfTheSignedForm) {
  pb::LogRecord r = Created("m");
  ASSERT_TRUE(SignRecord(*s_.origin, &r).ok());
  r.mutable_object_created()->set_sealed_material("node-local ciphertext");
  EXPECT_TRUE(Authentic(r, *s_.origin));
}

INSTANTIATE_TEST_SUITE_P(Schemes, RecordAuthContract, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Ecdsa" : "Fake"; });

TEST(RecordAuth, StoreSignsItsRecordsAndTheDestroyedLogCopyStillVerifies) {
  auto a = testing::MakeNode(testing::Backend::kMemEnv, "/a", 1);
  auto created = a->store->Execute(testing::Register(pb::SECRET_DATA, "MARKER-signed"), "c");
  ASSERT_TRUE(created.ok());
  auto verifier = MakeFakeSignatureVerifier();
  auto log = a->store->ReadLog(1, 1, 10);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_TRUE(IsAuthentic(log->at(0), FakePublicKey(1), *verifier));
  ASSERT_TRUE(a->store->Execute(testing::Destroy(created->uuid()), "d").ok());
  log = a->store->ReadLog(1, 1, 10);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_TRUE(log->at(0).object_created().material().empty());
  for (const auto& r : *log) EXPECT_TRUE(IsAuthentic(r, FakePublicKey(1), *verifier));
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

// Figures for the report: what one sign and one verify cost (a small record),
// in CPU time of this process (the machine is shared: wall time says little).
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
      ASSERT_TRUE(IsAuthentic(without, s.origin->PublicKey(), *s.verifier));
    }
    std::clock_t t3 = std::clock();
    // A record with material signs twice (full and erased form).
    std::printf(
        "[ figures ] %s, CPU per record: sign %.1f us (with material, two signatures: %.1f us), "
        "verify %.1f us\n",
        s.name.c_str(), cpu_us(t0, t1), cpu_us(t1, t2), cpu_us(t2, t3));
  }
}

}  // namespace
}  // namespace coffer::storage
