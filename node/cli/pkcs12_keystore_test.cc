// The PKCS#12 codec of `wallet upload|download`: what OpenSSL's own
// PKCS12_create writes reads back, a written keystore round-trips every
// entry's type, name and material, and a wrong password or a damaged file
// is a clear error.
#include "node/cli/pkcs12_keystore.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <map>

#include "node/net/certs.h"
#include "node/net/openssl_util.h"

namespace coffer::node::cli {
namespace {

// A key pair and its certificate, as DER (PKCS#8 and X.509).
struct Identity {
  KeyPtr key;
  X509Ptr cert;
  std::string key_der, cert_der;
};

Identity MakeIdentity(const std::string& cn) {
  PemPair pem = *CreateCertificateAuthority(cn);
  Identity id;
  BioPtr key_bio(BIO_new_mem_buf(pem.key_pem.data(), static_cast<int>(pem.key_pem.size())));
  id.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  BioPtr cert_bio(BIO_new_mem_buf(pem.cert_pem.data(), static_cast<int>(pem.cert_pem.size())));
  id.cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  unsigned char* out = nullptr;
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(id.key.get());
  int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &out);
  id.key_der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  PKCS8_PRIV_KEY_INFO_free(p8);
  out = nullptr;
  n = i2d_X509(id.cert.get(), &out);
  id.cert_der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return id;
}

const SecretBytes kPassword("keystore password");

TEST(Pkcs12KeystoreTest, WhatOpenSslsPkcs12CreateWritesReadsBack) {
  Identity id = MakeIdentity("db01 tls");
  PKCS12* p12 = PKCS12_create(kPassword.reveal().c_str(), "db01", id.key.get(), id.cert.get(),
                              nullptr, 0, 0, 0, 0, 0);
  ASSERT_NE(p12, nullptr);
  unsigned char* out = nullptr;
  int n = i2d_PKCS12(p12, &out);
  PKCS12_free(p12);
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);

  auto entries = ReadPkcs12(der, kPassword);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 2u);
  int keys = 0, certs = 0;
  for (const KeystoreEntry& e : *entries) {
    EXPECT_EQ(e.name, "db01");
    if (e.type == pb::PRIVATE_KEY) {
      ++keys;
      EXPECT_EQ(e.material.reveal(), id.key_der);
    } else if (e.type == pb::CERTIFICATE) {
      ++certs;
      EXPECT_EQ(e.material.reveal(), id.cert_der);
    }
  }
  EXPECT_EQ(keys, 1);
  EXPECT_EQ(certs, 1);
}

TEST(Pkcs12KeystoreTest, AWrittenKeystoreKeepsEveryEntrysTypeNameAndMaterial) {
  Identity id = MakeIdentity("web");
  std::vector<KeystoreEntry> written;
  written.push_back({pb::PRIVATE_KEY, "web-key", SecretBytes(id.key_der), ""});
  written.push_back({pb::CERTIFICATE, "web-cert", SecretBytes(id.cert_der), ""});
  written.push_back({pb::SECRET_DATA, "db-password", SecretBytes("hunter2"), ""});
  written.push_back({pb::SYMMETRIC_KEY, "tde-master", SecretBytes(std::string(32, '\x07')), ""});
  auto der = WritePkcs12(written, kPassword);
  ASSERT_TRUE(der.ok()) << der.status().ToString();
  auto read = ReadPkcs12(*der, kPassword);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), written.size());
  std::map<std::string, const KeystoreEntry*> by_name;
  for (const KeystoreEntry& e : *read) by_name[e.name] = &e;
  for (const KeystoreEntry& w : written) {
    ASSERT_TRUE(by_name.contains(w.name)) << w.name;
    const KeystoreEntry& r = *by_name[w.name];
    EXPECT_EQ(r.material.reveal(), w.material.reveal()) << w.name;
    // Secrets and symmetric keys travel as secret bags: back as secrets.
    EXPECT_EQ(r.type, w.type == pb::SYMMETRIC_KEY ? pb::SECRET_DATA : w.type) << w.name;
  }
  EXPECT_EQ(by_name["db-password"]->secret_type, "1.2.840.113549.1.7.1");  // id-data
}

TEST(Pkcs12KeystoreTest, AWrongPasswordAndADamagedFileAreClearErrors) {
  std::vector<KeystoreEntry> one;
  one.push_back({pb::SECRET_DATA, "s", SecretBytes("secret"), ""});
  auto der = WritePkcs12(one, kPassword);
  ASSERT_TRUE(der.ok());
  auto wrong = ReadPkcs12(*der, SecretBytes("not the password"));
  EXPECT_EQ(wrong.status().code(), Code::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("password"), std::string::npos);
  auto truncated = ReadPkcs12(der->substr(0, der->size() / 2), kPassword);
  EXPECT_EQ(truncated.status().code(), Code::kDataLoss);
  EXPECT_EQ(ReadPkcs12("not a keystore", kPassword).status().code(), Code::kDataLoss);
  // One flipped byte in the middle: refused, never read as something else.
  std::string flipped = *der;
  flipped[flipped.size() / 2] ^= 0x01;
  auto damaged = ReadPkcs12(flipped, kPassword);
  EXPECT_FALSE(damaged.ok());
  EXPECT_TRUE(damaged.status().code() == Code::kDataLoss ||
              damaged.status().code() == Code::kInvalidArgument)
      << damaged.status().ToString();
  // Nothing to write, and a "private key" that is not one.
  EXPECT_EQ(WritePkcs12({}, kPassword).status().code(), Code::kInvalidArgument);
  std::vector<KeystoreEntry> bad;
  bad.push_back({pb::PRIVATE_KEY, "k", SecretBytes("not DER"), ""});
  EXPECT_EQ(WritePkcs12(bad, kPassword).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::node::cli
