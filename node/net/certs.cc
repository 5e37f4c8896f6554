#include "node/net/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "node/net/openssl_util.h"

namespace coffer::node {
namespace {

using BnPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;

constexpr int kMaxValidDays = 36500;
// Tolerates clock skew between the machine that issues and the ones that verify.
constexpr long kNotBeforeSkewSeconds = 300;

Status OpenSslFailure(std::string_view what) {
  return Internal(std::string(what) + ": " + OpenSslErrors());
}

KeyPtr NewP256Key() { return KeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslFailure("writing private key PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(len));
  // The BIO's copy of the key text is freed without wiping otherwise.
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return pem;
}

StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslFailure("writing certificate PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status SetRandomSerial(X509* cert) {
  BnPtr bn(BN_new());
  // 159 random bits: positive and at most 20 octets, as RFC 5280 requires.
  if (!bn || BN_rand(bn.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
    return OpenSslFailure("generating serial number");
  }
  if (BN_is_zero(bn.get()) && BN_one(bn.get()) != 1) return OpenSslFailure("serial number");
  if (BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslFailure("setting serial number");
  }
  return Status::Ok();
}

Status AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.c_str()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    ERR_clear_error();
    return InvalidArgument(std::string("invalid subject ") + field + " '" + value +
                           "' (at most 64 characters)");
  }
  return Status::Ok();
}

Status SetSubject(X509* cert, const std::string& common_name, const std::string& unit) {
  X509_NAME* name = X509_get_subject_name(cert);
  COFFER_RETURN_IF_ERROR(AddNameEntry(name, "O", "Coffer"));
  if (!unit.empty()) COFFER_RETURN_IF_ERROR(AddNameEntry(name, "OU", unit));
  return AddNameEntry(name, "CN", common_name);
}

Status SetValidity(X509* cert, int valid_days) {
  if (valid_days < 1 || valid_days > kMaxValidDays) {
    return InvalidArgument("valid_days must be between 1 and " + std::to_string(kMaxValidDays) +
                           ", got " + std::to_string(valid_days));
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -kNotBeforeSkewSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert), valid_days, 0, nullptr) == nullptr) {
    return OpenSslFailure("setting validity");
  }
  return Status::Ok();
}

// Adds an extension given in OpenSSL's configuration syntax; `value` is a
// constant of this file, never user input.
Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslFailure(std::string("adding extension ") + OBJ_nid2sn(nid));
  }
  return Status::Ok();
}

bool IsValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label_len = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (label_len == 0) return false;
      label_len = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || (c == '*' && i == 0 && name.size() > 2 && name[1] == '.');
    if (!ok || ++label_len > 63) return false;
  }
  return label_len > 0;
}

Status AddSubjectAltNames(X509* cert, const CertificateRequest& request) {
  if (request.ip_addresses.empty() && request.dns_names.empty()) return Status::Ok();
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslFailure("allocating subjectAltName");
  for (const std::string& ip : request.ip_addresses) {
    unsigned char probe[16];
    bool parses =
        inet_pton(AF_INET, ip.c_str(), probe) == 1 || inet_pton(AF_INET6, ip.c_str(), probe) == 1;
    ASN1_OCTET_STRING* octets = parses ? a2i_IPADDRESS(ip.c_str()) : nullptr;
    if (octets == nullptr) {
      ERR_clear_error();
      return InvalidArgument("unparsable IP address '" + ip + "'");
    }
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) {
      ASN1_OCTET_STRING_free(octets);
      return OpenSslFailure("allocating subjectAltName entry");
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets);
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return OpenSslFailure("subjectAltName");
    gn.release();
  }
  for (const std::string& dns : request.dns_names) {
    if (!IsValidDnsName(dns)) return InvalidArgument("invalid DNS name '" + dns + "'");
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (text == nullptr || ASN1_STRING_set(text, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(text);
      return OpenSslFailure("allocating DNS name");
    }
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) {
      ASN1_IA5STRING_free(text);
      return OpenSslFailure("allocating subjectAltName entry");
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, text);
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return OpenSslFailure("subjectAltName");
    gn.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure("adding subjectAltName");
  }
  return Status::Ok();
}

StatusOr<X509Ptr> ParseCertificate(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ERR_clear_error();
    return InvalidArgument("CA certificate is not a PEM X.509 certificate");
  }
  return cert;
}

// Writes `data` to `path` through a temporary file and a rename, so readers
// never see a partial file; the file gets `mode` whatever existed before.
Status WriteFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    return Unavailable("cannot create '" + tmp + "': " + std::strerror(errno));
  }
  auto fail = [&](const char* what) {
    Status s = Unavailable(std::string(what) + " '" + tmp + "': " + std::strerror(errno));
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot chmod");
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Unavailable("cannot close '" + tmp + "': " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s =
        Unavailable("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return s;
  }
  return Status::Ok();
}

}  // namespace

StatusOr<PemPair> CreateCertificateAuthority(const std::string& common_name, int valid_days) {
  if (common_name.empty()) return InvalidArgument("CA common name is empty");
  KeyPtr key = NewP256Key();
  if (!key) return OpenSslFailure("generating P-256 key");
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslFailure("allocating certificate");
  }
  COFFER_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  COFFER_RETURN_IF_ERROR(SetValidity(cert.get(), valid_days));
  COFFER_RETURN_IF_ERROR(SetSubject(cert.get(), common_name, ""));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return OpenSslFailure("setting CA issuer and key");
  }
  COFFER_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  COFFER_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  COFFER_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return OpenSslFailure("signing CA");
  PemPair out;
  COFFER_ASSIGN_OR_RETURN(out.cert_pem, CertToPem(cert.get()));
  COFFER_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

StatusOr<PemPair> IssueCertificate(const PemPair& ca, const CertificateRequest& request) {
  if (request.common_name.empty()) return InvalidArgument("certificate common name is empty");
  COFFER_ASSIGN_OR_RETURN(X509Ptr ca_cert, ParseCertificate(ca.cert_pem));
  COFFER_ASSIGN_OR_RETURN(KeyPtr ca_key, ParsePrivateKeyPem(ca.key_pem, "CA key"));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("CA key does not match the CA certificate");
  }
  if (X509_check_ca(ca_cert.get()) == 0) {
    return InvalidArgument("the CA certificate is not a certificate authority");
  }

  KeyPtr key = NewP256Key();
  if (!key) return OpenSslFailure("generating P-256 key");
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslFailure("allocating certificate");
  }
  COFFER_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  COFFER_RETURN_IF_ERROR(SetValidity(cert.get(), request.valid_days));
  COFFER_RETURN_IF_ERROR(SetSubject(cert.get(), request.common_name, request.organizational_unit));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return OpenSslFailure("setting issuer and key");
  }
  COFFER_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  COFFER_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  COFFER_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  COFFER_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  COFFER_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  COFFER_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), request));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return OpenSslFailure("signing certificate");
  }
  PemPair out;
  COFFER_ASSIGN_OR_RETURN(out.cert_pem, CertToPem(cert.get()));
  COFFER_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

StatusOr<PemPair> ReadPemPair(const std::string& cert_path, const std::string& key_path) {
  PemPair out;
  COFFER_ASSIGN_OR_RETURN(out.cert_pem, ReadWholeFile("certificate", cert_path));
  COFFER_ASSIGN_OR_RETURN(out.key_pem, ReadWholeFile("key", key_path));
  return out;
}

Status WritePemPair(const PemPair& pair, const std::string& cert_path,
                    const std::string& key_path) {
  COFFER_RETURN_IF_ERROR(WriteFileAtomically(key_path, pair.key_pem, 0600));
  return WriteFileAtomically(cert_path, pair.cert_pem, 0644);
}

StatusOr<int64_t> CertificateNotAfter(const std::string& cert_path) {
  COFFER_ASSIGN_OR_RETURN(std::string pem, ReadWholeFile("certificate", cert_path));
  COFFER_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(pem));
  const ASN1_TIME* not_after = X509_get0_notAfter(cert.get());
  struct tm when = {};
  if (not_after == nullptr || ASN1_TIME_to_tm(not_after, &when) != 1) {
    ERR_clear_error();
    return InvalidArgument("certificate " + cert_path + " has no readable notAfter");
  }
  return static_cast<int64_t>(timegm(&when));
}

}  // namespace coffer::node
