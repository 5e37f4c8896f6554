#include "node/net/certs.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace coffer::node {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr ParsePem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(cert);
}

std::string NameField(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

// X509_V_OK if `leaf` verifies under `ca` for TLS client and server use.
int VerifyUnder(X509* ca, X509* leaf, int purpose) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return result;
}

class CertsTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = CreateCertificateAuthority("test-ca");
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = new PemPair(*ca);
  }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }
  static PemPair* ca_;
};
PemPair* CertsTest::ca_ = nullptr;

TEST_F(CertsTest, CaIsSelfSignedCertificateAuthority) {
  X509Ptr ca = ParsePem(ca_->cert_pem);
  ASSERT_TRUE(ca);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);
  EXPECT_EQ(NameField(ca.get(), NID_commonName), "test-ca");
  EXPECT_EQ(NameField(ca.get(), NID_organizationName), "Coffer");
  EXPECT_NE(ca_->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(X509_get_extension_flags(ca.get()) & EXFLAG_CA);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
}

TEST_F(CertsTest, LeafVerifiesUnderCaWithSubjectAndSan) {
  CertificateRequest request;
  request.common_name = "node-1";
  request.organizational_unit = "node";
  request.ip_addresses = {"127.0.0.1", "::1"};
  request.dns_names = {"node-1.coffer.test"};
  auto leaf = IssueCertificate(*ca_, request);
  ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
  X509Ptr ca = ParsePem(ca_->cert_pem);
  X509Ptr cert = ParsePem(leaf->cert_pem);
  ASSERT_TRUE(cert);

  EXPECT_EQ(VerifyUnder(ca.get(), cert.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(VerifyUnder(ca.get(), cert.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(NameField(cert.get(), NID_commonName), "node-1");
  EXPECT_EQ(NameField(cert.get(), NID_organizationalUnitName), "node");
  EXPECT_EQ(NameField(cert.get(), NID_organizationName), "Coffer");

  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 0);
  EXPECT_EQ(X509_check_host(cert.get(), "node-1.coffer.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "other.coffer.test", 0, 0, nullptr), 0);
  uint32_t eku = X509_get_extended_key_usage(cert.get());
  EXPECT_TRUE(eku & XKU_SSL_SERVER);
  EXPECT_TRUE(eku & XKU_SSL_CLIENT);

  // The key is the certificate's.
  BIO* bio = BIO_new_mem_buf(leaf->key_pem.data(), static_cast<int>(leaf->key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), key), 1);
  EVP_PKEY_free(key);
}

TEST_F(CertsTest, SerialsAreRandom) {
  CertificateRequest request;
  request.common_name = "client";
  auto a = IssueCertificate(*ca_, request);
  auto b = IssueCertificate(*ca_, request);
  ASSERT_TRUE(a.ok() && b.ok());
  X509Ptr ca_cert = ParsePem(a->cert_pem);
  X509Ptr cb_cert = ParsePem(b->cert_pem);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca_cert.get()),
                             X509_get0_serialNumber(cb_cert.get())),
            0);
}

TEST_F(CertsTest, LeafFromAnotherCaDoesNotVerify) {
  auto other = CreateCertificateAuthority("other-ca");
  ASSERT_TRUE(other.ok());
  CertificateRequest request;
  request.common_name = "intruder";
  auto leaf = IssueCertificate(*other, request);
  ASSERT_TRUE(leaf.ok());
  X509Ptr ca = ParsePem(ca_->cert_pem);
  X509Ptr cert = ParsePem(leaf->cert_pem);
  EXPECT_NE(VerifyUnder(ca.get(), cert.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
}

TEST_F(CertsTest, BadInputIsInvalidArgument) {
  CertificateRequest request;
  request.common_name = "node-1";

  PemPair bad_ca{"not a certificate", ca_->key_pem};
  EXPECT_EQ(IssueCertificate(bad_ca, request).status().code(), Code::kInvalidArgument);
  PemPair bad_key{ca_->cert_pem, "not a key"};
  EXPECT_EQ(IssueCertificate(bad_key, request).status().code(), Code::kInvalidArgument);
  auto other = CreateCertificateAuthority("other-ca");
  ASSERT_TRUE(other.ok());
  PemPair mismatched{ca_->cert_pem, other->key_pem};
  EXPECT_EQ(IssueCertificate(mismatched, request).status().code(), Code::kInvalidArgument);
  // A leaf cannot sign.
  auto leaf = IssueCertificate(*ca_, request);
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(IssueCertificate(*leaf, request).status().code(), Code::kInvalidArgument);

  CertificateRequest no_name;
  EXPECT_EQ(IssueCertificate(*ca_, no_name).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority("").status().code(), Code::kInvalidArgument);

  CertificateRequest bad_ip = request;
  bad_ip.ip_addresses = {"300.1.1.1"};
  EXPECT_EQ(IssueCertificate(*ca_, bad_ip).status().code(), Code::kInvalidArgument);
  bad_ip.ip_addresses = {"node-1"};
  EXPECT_EQ(IssueCertificate(*ca_, bad_ip).status().code(), Code::kInvalidArgument);

  CertificateRequest bad_dns = request;
  bad_dns.dns_names = {"a,DNS:evil.example"};
  EXPECT_EQ(IssueCertificate(*ca_, bad_dns).status().code(), Code::kInvalidArgument);

  CertificateRequest bad_days = request;
  bad_days.valid_days = 0;
  EXPECT_EQ(IssueCertificate(*ca_, bad_days).status().code(), Code::kInvalidArgument);

  CertificateRequest long_name;
  long_name.common_name = std::string(65, 'x');
  EXPECT_EQ(IssueCertificate(*ca_, long_name).status().code(), Code::kInvalidArgument);
}

class CertsTempDir {
 public:
  CertsTempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "coffer-certs-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~CertsTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST_F(CertsTest, WriteAndReadPemPair) {
  CertsTempDir dir;
  std::string cert = dir.File("node.crt");
  std::string key = dir.File("node.key");
  ASSERT_TRUE(WritePemPair(*ca_, cert, key).ok());

  struct stat st {};
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat(cert.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644);

  auto read = ReadPemPair(cert, key);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->cert_pem, ca_->cert_pem);
  EXPECT_EQ(read->key_pem, ca_->key_pem);

  // Overwriting a key file that had loose permissions tightens them.
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);
  ASSERT_TRUE(WritePemPair(*ca_, cert, key).ok());
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  EXPECT_EQ(ReadPemPair(dir.File("missing.crt"), key).status().code(), Code::kNotFound);
  EXPECT_EQ(WritePemPair(*ca_, dir.File("no/such/dir.crt"), dir.File("no/such/dir.key")).code(),
            Code::kUnavailable);
}

}  // namespace
}  // namespace coffer::node
