#include "storage/crypto.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace coffer::storage {
namespace {

// Small scrypt cost so the tests stay fast; production uses the default.
constexpr ScryptParams kFastScrypt{.n = 1024, .r = 8, .p = 1};

SecretBytes NewDataKey() {
  StatusOr<SecretBytes> key = RandomSecret(kDataKeyBytes);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return *key;
}

std::unique_ptr<Sealer> NewSealer(const SecretBytes& key) {
  StatusOr<std::unique_ptr<Sealer>> sealer = Sealer::Create(key);
  EXPECT_TRUE(sealer.ok()) << sealer.status().ToString();
  return std::move(sealer).value();
}

std::unique_ptr<RootOfTrust> NewRoot(std::string passphrase, ScryptParams params = kFastScrypt) {
  StatusOr<std::unique_ptr<RootOfTrust>> root =
      NewPassphraseRootOfTrust(SecretBytes(std::move(passphrase)), params);
  EXPECT_TRUE(root.ok()) << root.status().ToString();
  return std::move(root).value();
}

bool IsLowerHex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(RandomSecretTest, ReturnsRequestedLengthAndDiffers) {
  StatusOr<SecretBytes> a = RandomSecret(32);
  StatusOr<SecretBytes> b = RandomSecret(32);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(a->reveal(), b->reveal());
  StatusOr<SecretBytes> empty = RandomSecret(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SealerTest, RejectsBadKeySize) {
  for (size_t n : {0, 16, 31, 33, 64}) {
    StatusOr<std::unique_ptr<Sealer>> sealer = Sealer::Create(SecretBytes(std::string(n, 'k')));
    ASSERT_FALSE(sealer.ok()) << n;
    EXPECT_EQ(sealer.status().code(), Code::kInvalidArgument) << n;
  }
}

TEST(SealerTest, RoundTrip) {
  auto sealer = NewSealer(NewDataKey());
  for (std::string plaintext : {std::string(), std::string("k"), std::string("top secret material"),
                                std::string(1 << 20, 'x')}) {
    StatusOr<std::string> sealed = sealer->Seal(plaintext, "obj-1|v1");
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    StatusOr<SecretBytes> opened = sealer->Open(*sealed, "obj-1|v1");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->reveal(), plaintext);
  }
}

TEST(SealerTest, SealedFormatIsVersionNonceCiphertextTag) {
  auto sealer = NewSealer(NewDataKey());
  const std::string plaintext = "0123456789abcdef-PLAINTEXT-MARKER";
  StatusOr<std::string> sealed = sealer->Seal(plaintext, "aad");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 1 + 12 + plaintext.size() + 16);
  EXPECT_EQ(static_cast<uint8_t>((*sealed)[0]), 1);
  EXPECT_EQ(sealed->find("PLAINTEXT-MARKER"), std::string::npos);
}

TEST(SealerTest, NoncesDifferBetweenSealsOfSamePlaintext) {
  // 2,000 seals draw the nonce pool (341 nonces) empty several times: no
  // nonce comes back after a refill, and every seal still opens.
  auto sealer = NewSealer(NewDataKey());
  std::set<std::string> nonces;
  std::set<std::string> blobs;
  for (int i = 0; i < 2000; ++i) {
    StatusOr<std::string> sealed = sealer->Seal("same plaintext", "same aad");
    ASSERT_TRUE(sealed.ok());
    nonces.insert(sealed->substr(1, 12));
    blobs.insert(*sealed);
    ASSERT_TRUE(sealer->Open(*sealed, "same aad").ok()) << "seal " << i;
  }
  EXPECT_EQ(nonces.size(), 2000u);
  EXPECT_EQ(blobs.size(), 2000u);
}

TEST(SealerTest, FlippedByteAnywhereIsDataLoss) {
  auto sealer = NewSealer(NewDataKey());
  StatusOr<std::string> sealed = sealer->Seal("material", "obj|1");
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string damaged = *sealed;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      StatusOr<SecretBytes> opened = sealer->Open(damaged, "obj|1");
      ASSERT_FALSE(opened.ok()) << "byte " << i;
      EXPECT_EQ(opened.status().code(), Code::kDataLoss) << "byte " << i;
    }
  }
}

// A Sealer keeps its keyed cipher contexts between calls: a failed open
// must leave them fit for the next seal and open, from any thread.
TEST(SealerTest, AFailedOpenLeavesTheSealerWorkingAcrossThreads) {
  auto sealer = NewSealer(NewDataKey());
  StatusOr<std::string> sealed = sealer->Seal("material", "obj|1");
  ASSERT_TRUE(sealed.ok());
  std::string damaged = *sealed;
  damaged.back() = static_cast<char>(damaged.back() ^ 0x01);
  ASSERT_EQ(sealer->Open(damaged, "obj|1").status().code(), Code::kDataLoss);
  auto reopened = sealer->Open(*sealed, "obj|1");
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(reopened->reveal(), "material");

  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string plain = "secret " + std::to_string(t) + "/" + std::to_string(i);
        auto s = sealer->Seal(plain, "aad");
        auto o = s.ok() ? sealer->Open(*s, "aad") : StatusOr<SecretBytes>(s.status());
        if (!o.ok() || o->reveal() != plain) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(SealerTest, DifferentAadIsDataLoss) {
  auto sealer = NewSealer(NewDataKey());
  StatusOr<std::string> sealed = sealer->Seal("material", "uuid-A|v1");
  ASSERT_TRUE(sealed.ok());
  for (std::string_view other : {"uuid-B|v1", "uuid-A|v2", "", "uuid-A|v1 "}) {
    StatusOr<SecretBytes> opened = sealer->Open(*sealed, other);
    ASSERT_FALSE(opened.ok()) << other;
    EXPECT_EQ(opened.status().code(), Code::kDataLoss) << other;
  }
}

TEST(SealerTest, TruncatedOrExtendedInputIsDataLoss) {
  auto sealer = NewSealer(NewDataKey());
  StatusOr<std::string> sealed = sealer->Seal("material", "aad");
  ASSERT_TRUE(sealed.ok());
  for (size_t n = 0; n < sealed->size(); ++n) {
    StatusOr<SecretBytes> opened = sealer->Open(std::string_view(*sealed).substr(0, n), "aad");
    ASSERT_FALSE(opened.ok()) << "length " << n;
    EXPECT_EQ(opened.status().code(), Code::kDataLoss) << "length " << n;
  }
  StatusOr<SecretBytes> extended = sealer->Open(*sealed + "x", "aad");
  ASSERT_FALSE(extended.ok());
  EXPECT_EQ(extended.status().code(), Code::kDataLoss);
}

TEST(SealerTest, WrongKeyIsDataLoss) {
  auto sealer = NewSealer(NewDataKey());
  auto other = NewSealer(NewDataKey());
  StatusOr<std::string> sealed = sealer->Seal("material", "aad");
  ASSERT_TRUE(sealed.ok());
  StatusOr<SecretBytes> opened = other->Open(*sealed, "aad");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Code::kDataLoss);
}

TEST(SealerTest, ErrorMessagesDoNotContainPlaintext) {
  auto sealer = NewSealer(NewDataKey());
  StatusOr<std::string> sealed = sealer->Seal("PLAINTEXT-MARKER", "aad");
  ASSERT_TRUE(sealed.ok());
  StatusOr<SecretBytes> opened = sealer->Open(*sealed, "other");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().message().find("PLAINTEXT"), std::string::npos);
}

TEST(PassphraseRootOfTrustTest, EmptyPassphraseIsInvalidArgument) {
  StatusOr<std::unique_ptr<RootOfTrust>> root =
      NewPassphraseRootOfTrust(SecretBytes(""), kFastScrypt);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), Code::kInvalidArgument);
}

TEST(PassphraseRootOfTrustTest, BadScryptParamsAreInvalidArgument) {
  for (ScryptParams params :
       {ScryptParams{.n = 1000, .r = 8, .p = 1}, ScryptParams{.n = 1, .r = 8, .p = 1},
        ScryptParams{.n = 1024, .r = 0, .p = 1}, ScryptParams{.n = 1024, .r = 8, .p = 0},
        ScryptParams{.n = uint64_t{1} << 40, .r = 8, .p = 1}}) {
    StatusOr<std::unique_ptr<RootOfTrust>> root =
        NewPassphraseRootOfTrust(SecretBytes("pass"), params);
    ASSERT_FALSE(root.ok()) << params.n << " " << params.r << " " << params.p;
    EXPECT_EQ(root.status().code(), Code::kInvalidArgument);
  }
}

TEST(PassphraseRootOfTrustTest, WrapFillsEveryFieldAndUnwrapRoundTrips) {
  auto root = NewRoot("correct horse battery staple");
  SecretBytes data_key = NewDataKey();
  StatusOr<pb::WrappedDataKey> wrapped = root->Wrap(data_key);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ(wrapped->kdf(), "scrypt");
  EXPECT_EQ(wrapped->salt().size(), 16u);
  EXPECT_EQ(wrapped->scrypt_n(), kFastScrypt.n);
  EXPECT_EQ(wrapped->scrypt_r(), kFastScrypt.r);
  EXPECT_EQ(wrapped->scrypt_p(), kFastScrypt.p);
  EXPECT_EQ(wrapped->nonce().size(), 12u);
  EXPECT_EQ(wrapped->ciphertext().size(), kDataKeyBytes + 16);
  EXPECT_EQ(wrapped->key_id().size(), 32u);
  EXPECT_TRUE(IsLowerHex(wrapped->key_id())) << wrapped->key_id();
  // The serialized record never holds the data key in the clear.
  EXPECT_EQ(wrapped->SerializeAsString().find(data_key.reveal()), std::string::npos);

  StatusOr<SecretBytes> unwrapped = root->Unwrap(*wrapped);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_EQ(*unwrapped, data_key);

  // A second root of trust on the same passphrase (e.g. after a restart)
  // opens it too, even with other configured scrypt parameters: the record's
  // parameters are used.
  auto restarted = NewRoot("correct horse battery staple", ScryptParams{.n = 2048, .r = 4, .p = 2});
  StatusOr<SecretBytes> again = restarted->Unwrap(*wrapped);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, data_key);
}

TEST(PassphraseRootOfTrustTest, EachWrapUsesFreshSaltNonceAndKeyId) {
  auto root = NewRoot("pass");
  SecretBytes data_key = NewDataKey();
  StatusOr<pb::WrappedDataKey> a = root->Wrap(data_key);
  StatusOr<pb::WrappedDataKey> b = root->Wrap(data_key);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->salt(), b->salt());
  EXPECT_NE(a->nonce(), b->nonce());
  EXPECT_NE(a->key_id(), b->key_id());
  EXPECT_NE(a->ciphertext(), b->ciphertext());
}

TEST(PassphraseRootOfTrustTest, WrapRejectsBadKeySize) {
  auto root = NewRoot("pass");
  for (size_t n : {0, 16, 31, 33}) {
    StatusOr<pb::WrappedDataKey> wrapped = root->Wrap(SecretBytes(std::string(n, 'k')));
    ASSERT_FALSE(wrapped.ok()) << n;
    EXPECT_EQ(wrapped.status().code(), Code::kInvalidArgument) << n;
  }
}

TEST(PassphraseRootOfTrustTest, WrongPassphraseIsPermissionDenied) {
  auto root = NewRoot("right passphrase");
  StatusOr<pb::WrappedDataKey> wrapped = root->Wrap(NewDataKey());
  ASSERT_TRUE(wrapped.ok());
  auto wrong = NewRoot("MARKER-wrong-pass");
  StatusOr<SecretBytes> unwrapped = wrong->Unwrap(*wrapped);
  ASSERT_FALSE(unwrapped.ok());
  EXPECT_EQ(unwrapped.status().code(), Code::kPermissionDenied);
  // Says what to check, names the key, never echoes the passphrase.
  EXPECT_NE(unwrapped.status().message().find("passphrase"), std::string::npos);
  EXPECT_NE(unwrapped.status().message().find(wrapped->key_id()), std::string::npos);
  EXPECT_EQ(unwrapped.status().message().find("MARKER"), std::string::npos);
}

TEST(PassphraseRootOfTrustTest, DefaultScryptParamsWork) {
  // 2^15 * r=8 needs just over 32 MiB, above OpenSSL's default scrypt memory cap.
  auto root = NewRoot("pass", ScryptParams{});
  SecretBytes data_key = NewDataKey();
  StatusOr<pb::WrappedDataKey> wrapped = root->Wrap(data_key);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ(wrapped->scrypt_n(), uint64_t{1} << 15);
  StatusOr<SecretBytes> unwrapped = root->Unwrap(*wrapped);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_EQ(*unwrapped, data_key);
}

TEST(PassphraseRootOfTrustTest, TamperedWrappedKeyIsPermissionDenied) {
  auto root = NewRoot("pass");
  StatusOr<pb::WrappedDataKey> wrapped = root->Wrap(NewDataKey());
  ASSERT_TRUE(wrapped.ok());

  auto expect_denied = [&](const pb::WrappedDataKey& record, const std::string& what) {
    StatusOr<SecretBytes> unwrapped = root->Unwrap(record);
    ASSERT_FALSE(unwrapped.ok()) << what;
    EXPECT_EQ(unwrapped.status().code(), Code::kPermissionDenied) << what;
  };
  auto flip_each_byte = [&](std::string* (pb::WrappedDataKey::*mutable_field)(),
                            const std::string& name) {
    size_t size = ((*wrapped).*mutable_field)()->size();
    for (size_t i = 0; i < size; ++i) {
      pb::WrappedDataKey record = *wrapped;
      std::string* field = (record.*mutable_field)();
      (*field)[i] = static_cast<char>((*field)[i] ^ 0x01);
      expect_denied(record, name + " byte " + std::to_string(i));
    }
  };
  flip_each_byte(&pb::WrappedDataKey::mutable_ciphertext, "ciphertext");
  flip_each_byte(&pb::WrappedDataKey::mutable_nonce, "nonce");
  flip_each_byte(&pb::WrappedDataKey::mutable_salt, "salt");
  flip_each_byte(&pb::WrappedDataKey::mutable_key_id, "key_id");

  pb::WrappedDataKey record = *wrapped;
  record.set_scrypt_n(2048);
  expect_denied(record, "scrypt_n");
  record = *wrapped;
  record.set_scrypt_r(4);
  expect_denied(record, "scrypt_r");
  record = *wrapped;
  record.set_scrypt_n(uint64_t{1} << 40);  // refused before any allocation
  expect_denied(record, "huge scrypt_n");
  record = *wrapped;
  record.set_kdf("pbkdf2");
  expect_denied(record, "kdf");
  record = *wrapped;
  record.mutable_ciphertext()->pop_back();
  expect_denied(record, "truncated ciphertext");
  record = *wrapped;
  record.clear_nonce();
  expect_denied(record, "missing nonce");
  expect_denied(pb::WrappedDataKey(), "empty record");
}

}  // namespace
}  // namespace coffer::storage
