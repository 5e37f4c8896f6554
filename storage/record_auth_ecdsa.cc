// ECDSA P-256 / SHA-256 record signatures with a node's certificate key
// (record_auth.h).
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <mutex>

#include "storage/record_auth.h"

namespace coffer::storage {
namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

bool IsP256(EVP_PKEY* key) {
  char group[64] = {0};
  size_t len = 0;
  return EVP_PKEY_is_a(key, "EC") &&
         EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len) == 1 &&
         std::string_view(group, len) == "prime256v1";
}

StatusOr<std::string> PublicKeyDer(EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return Internal("cannot encode a public key");
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(key, &out) != len) return Internal("cannot encode a public key");
  return der;
}

using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

// SHA-256 of `message`. The digest is fetched once: a fetch per call (and a
// context made per call for the key, below) costs OpenSSL 3 more than the
// signature itself.
bool Sha256(std::string_view message, unsigned char (&out)[32]) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned int len = 0;
  return sha256 != nullptr &&
         EVP_Digest(message.data(), message.size(), out, &len, sha256, nullptr) == 1 && len == 32;
}

class EcdsaRecordSigner final : public RecordSigner {
 public:
  EcdsaRecordSigner(PkeyPtr key, PkeyCtxPtr ctx, std::string public_key)
      : key_(std::move(key)), ctx_(std::move(ctx)), public_key_(std::move(public_key)) {}
  const std::string& PublicKey() const override { return public_key_; }
  StatusOr<std::string> Sign(std::string_view message) const override {
    unsigned char digest[32];
    if (!Sha256(message, digest)) return Internal("cannot hash a record");
    std::lock_guard<std::mutex> lock(mu_);  // one context, initialized once
    size_t len = 0;
    if (EVP_PKEY_sign(ctx_.get(), nullptr, &len, digest, sizeof digest) != 1) {
      ERR_clear_error();
      return Internal("cannot sign a record");
    }
    std::string signature(len, '\0');
    if (EVP_PKEY_sign(ctx_.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, digest,
                      sizeof digest) != 1) {
      ERR_clear_error();
      return Internal("cannot sign a record");
    }
    signature.resize(len);
    return signature;
  }

 private:
  PkeyPtr key_;
  mutable std::mutex mu_;
  PkeyCtxPtr ctx_;  // GUARDED_BY(mu_)
  std::string public_key_;
};

class EcdsaSignatureVerifier final : public SignatureVerifier {
 public:
  bool Verify(std::string_view public_key, std::string_view message,
              std::string_view signature) override {
    EVP_PKEY_CTX* ctx = ContextFor(public_key);
    unsigned char digest[32];
    if (ctx == nullptr || !Sha256(message, digest)) return false;
    bool ok = EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                              signature.size(), digest, sizeof digest) == 1;
    ERR_clear_error();
    return ok;
  }

 private:
  struct Key {
    PkeyPtr key{nullptr, EVP_PKEY_free};
    PkeyCtxPtr ctx{nullptr, EVP_PKEY_CTX_free};  // initialized for verify
  };
  // A verify context per key, by the key's DER bytes: one per member, never
  // more than the membership holds (a key that does not parse is not kept).
  EVP_PKEY_CTX* ContextFor(std::string_view der) {
    auto it = keys_.find(std::string(der));
    if (it != keys_.end()) return it->second.ctx.get();
    const auto* in = reinterpret_cast<const unsigned char*>(der.data());
    Key k;
    k.key.reset(d2i_PUBKEY(nullptr, &in, static_cast<long>(der.size())));
    if (k.key == nullptr || !IsP256(k.key.get())) {
      ERR_clear_error();
      return nullptr;
    }
    k.ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, k.key.get(), nullptr));
    if (k.ctx == nullptr || EVP_PKEY_verify_init(k.ctx.get()) != 1) {
      ERR_clear_error();
      return nullptr;
    }
    EVP_PKEY_CTX* raw = k.ctx.get();
    keys_.emplace(std::string(der), std::move(k));
    return raw;
  }
  std::map<std::string, Key> keys_;
};

}  // namespace

StatusOr<std::unique_ptr<RecordSigner>> MakeEcdsaRecordSigner(std::string_view private_key_pem) {
  BioPtr bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())),
             BIO_free);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr,
              EVP_PKEY_free);
  if (key == nullptr || !IsP256(key.get())) {
    ERR_clear_error();
    return InvalidArgument("the node key is not an EC P-256 private key in PEM");
  }
  COFFER_ASSIGN_OR_RETURN(std::string public_key, PublicKeyDer(key.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), EVP_PKEY_CTX_free);
  if (ctx == nullptr || EVP_PKEY_sign_init(ctx.get()) != 1) {
    ERR_clear_error();
    return Internal("cannot set up signing with the node key");
  }
  return std::unique_ptr<RecordSigner>(
      std::make_unique<EcdsaRecordSigner>(std::move(key), std::move(ctx), std::move(public_key)));
}

std::unique_ptr<SignatureVerifier> MakeEcdsaSignatureVerifier() {
  return std::make_unique<EcdsaSignatureVerifier>();
}

StatusOr<std::string> CertificatePublicKey(std::string_view certificate_pem) {
  BioPtr bio(BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())),
             BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (cert == nullptr) {
    ERR_clear_error();
    return InvalidArgument("not a PEM certificate");
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr) {
    ERR_clear_error();
    return InvalidArgument("the certificate has no public key");
  }
  return PublicKeyDer(key);
}

}  // namespace coffer::storage
