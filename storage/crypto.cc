// AES-256-GCM sealing and the passphrase root of trust, on OpenSSL 3 EVP.
//
// Every temporary buffer that holds key material or plaintext is wiped with
// OPENSSL_cleanse before it is released. Error messages never contain key
// material, passphrases or plaintext.
#include "storage/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

namespace coffer::storage {
namespace {

constexpr uint8_t kSealFormatVersion = 1;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kSealOverhead = 1 + kNonceBytes + kTagBytes;

constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyIdBytes = 16;  // 32 hex characters
constexpr std::string_view kScryptKdf = "scrypt";
constexpr std::string_view kWrapAadPrefix = "coffer/data-key/v1|";
// Upper bound on the memory scrypt may use (128 * r * (n + p + 2) bytes).
// It also bounds what a damaged or hostile wrapped-key record can make
// Unwrap allocate. 2^20 with r = 8 needs 1 GiB + a little, so allow that.
constexpr uint64_t kMaxScryptMemory = (uint64_t{1} << 30) + (uint64_t{1} << 20);
// EVP update calls take an int length; larger inputs are fed in chunks.
constexpr size_t kMaxChunk = size_t{1} << 30;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* U8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// Wipes every byte a string may still hold, including a small-string buffer
// left behind by a move, then empties it.
void WipeString(std::string& s) {
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// A 256-bit key in a fixed buffer, wiped on destruction.
class KeyBuffer {
 public:
  KeyBuffer() = default;
  KeyBuffer(const KeyBuffer&) = delete;
  KeyBuffer& operator=(const KeyBuffer&) = delete;
  ~KeyBuffer() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
  unsigned char* data() { return bytes_.data(); }
  const unsigned char* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::array<unsigned char, kDataKeyBytes> bytes_{};
};

Status RandomBytes(unsigned char* out, size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) {
    return InvalidArgument("random request too large: " + std::to_string(n) + " bytes");
  }
  if (n == 0) return Status::Ok();
  if (RAND_bytes(out, static_cast<int>(n)) != 1) {
    return Internal("OpenSSL RAND_bytes failed");
  }
  return Status::Ok();
}

}  // namespace

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string Sha256(std::string_view bytes) {
  // Fetched once: OpenSSL 3 fetches cost more than a short hash.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char out[32];
  unsigned int len = 0;
  if (sha256 == nullptr ||
      EVP_Digest(bytes.data(), bytes.size(), out, &len, sha256, nullptr) != 1 || len != 32) {
    return std::string(32, '\xff');
  }
  return std::string(reinterpret_cast<const char*>(out), 32);
}

namespace {

// Feeds `in` to EVP_{En,De}cryptUpdate in int-sized chunks. `out` may be null
// (AAD). Returns false on an OpenSSL failure; *written is the output length.
template <typename UpdateFn>
bool ChunkedUpdate(UpdateFn update, EVP_CIPHER_CTX* ctx, unsigned char* out, std::string_view in,
                   size_t* written) {
  *written = 0;
  size_t offset = 0;
  while (offset < in.size()) {
    size_t chunk = std::min(kMaxChunk, in.size() - offset);
    int len = 0;
    if (update(ctx, out == nullptr ? nullptr : out + *written, &len, U8(in) + offset,
               static_cast<int>(chunk)) != 1) {
      return false;
    }
    *written += static_cast<size_t>(len);
    offset += chunk;
  }
  return true;
}

// AES-256-GCM encryption. Returns ciphertext || 16-byte tag. `key` is 32 bytes,
// `nonce` 12 bytes.
// A context set up for AES-256-GCM under `key` with 12-byte nonces (the key
// schedule computed once); null on an OpenSSL failure.
CipherCtx KeyedGcmContext(const unsigned char* key, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes),
                          nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key, nullptr, encrypt) != 1) {
    return nullptr;
  }
  return ctx;
}

// GcmEncrypt with a context from KeyedGcmContext(key, true): only the nonce
// is set per call. The context must not be used by another thread meanwhile.
StatusOr<std::string> GcmEncryptKeyed(EVP_CIPHER_CTX* ctx, std::string_view nonce,
                                      std::string_view plaintext, std::string_view aad) {
  if (nonce.size() != kNonceBytes ||
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, U8(nonce)) != 1) {
    return Internal("AES-256-GCM encrypt init failed");
  }
  size_t ignored = 0;
  if (!ChunkedUpdate(EVP_EncryptUpdate, ctx, nullptr, aad, &ignored)) {
    return Internal("AES-256-GCM AAD update failed");
  }
  std::string out(plaintext.size() + kTagBytes, '\0');
  size_t written = 0;
  if (!ChunkedUpdate(EVP_EncryptUpdate, ctx, U8(out), plaintext, &written)) {
    return Internal("AES-256-GCM encrypt update failed");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx, U8(out) + written, &final_len) != 1) {
    return Internal("AES-256-GCM encrypt final failed");
  }
  written += static_cast<size_t>(final_len);
  if (written != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          U8(out) + written) != 1) {
    return Internal("AES-256-GCM tag retrieval failed");
  }
  return out;
}

StatusOr<std::string> GcmEncrypt(const unsigned char* key, std::string_view nonce,
                                 std::string_view plaintext, std::string_view aad) {
  CipherCtx ctx = KeyedGcmContext(key, /*encrypt=*/true);
  if (!ctx) return Internal("AES-256-GCM encrypt init failed");
  return GcmEncryptKeyed(ctx.get(), nonce, plaintext, aad);
}

// AES-256-GCM decryption of ciphertext || tag. DATA_LOSS if the input is too
// short or the tag does not verify (wrong key, wrong AAD, damaged bytes);
// INTERNAL on an OpenSSL failure. On failure nothing of the plaintext is kept.
// GcmDecrypt with a context from KeyedGcmContext(key, false).
StatusOr<SecretBytes> GcmDecryptKeyed(EVP_CIPHER_CTX* ctx, std::string_view nonce,
                                      std::string_view ciphertext_and_tag, std::string_view aad) {
  if (ciphertext_and_tag.size() < kTagBytes) return DataLoss("ciphertext shorter than its tag");
  std::string_view ciphertext = ciphertext_and_tag.substr(0, ciphertext_and_tag.size() - kTagBytes);
  std::string tag(ciphertext_and_tag.substr(ciphertext.size()));
  if (nonce.size() != kNonceBytes ||
      EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, U8(nonce)) != 1) {
    return Internal("AES-256-GCM decrypt init failed");
  }
  size_t ignored = 0;
  if (!ChunkedUpdate(EVP_DecryptUpdate, ctx, nullptr, aad, &ignored)) {
    return Internal("AES-256-GCM AAD update failed");
  }
  // One spare byte so data() is writable even for an empty plaintext.
  std::string plain(ciphertext.size() + 1, '\0');
  size_t written = 0;
  if (!ChunkedUpdate(EVP_DecryptUpdate, ctx, U8(plain), ciphertext, &written)) {
    WipeString(plain);
    return Internal("AES-256-GCM decrypt update failed");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), U8(tag)) != 1) {
    WipeString(plain);
    return Internal("AES-256-GCM set tag failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx, U8(plain) + written, &final_len) != 1) {
    WipeString(plain);
    return DataLoss("authentication failed");
  }
  written += static_cast<size_t>(final_len);
  plain.resize(written);
  SecretBytes result(std::move(plain));
  WipeString(plain);  // NOLINT(bugprone-use-after-move): wipes a small-string buffer
  return result;
}

StatusOr<SecretBytes> GcmDecrypt(const unsigned char* key, std::string_view nonce,
                                 std::string_view ciphertext_and_tag, std::string_view aad) {
  CipherCtx ctx = KeyedGcmContext(key, /*encrypt=*/false);
  if (!ctx) return Internal("AES-256-GCM decrypt init failed");
  return GcmDecryptKeyed(ctx.get(), nonce, ciphertext_and_tag, aad);
}

// True if scrypt can run with these parameters within kMaxScryptMemory.
bool ScryptParamsValid(uint64_t n, uint64_t r, uint64_t p) {
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0) return false;
  // 128 * r * (n + p + 2) <= kMaxScryptMemory, checked without overflow.
  if (r > kMaxScryptMemory / 128 || p > kMaxScryptMemory) return false;
  uint64_t per_block = 128 * r;
  if (n + p + 2 < n) return false;
  return (n + p + 2) <= kMaxScryptMemory / per_block;
}

// Derives the 256-bit key-encryption key. Parameters must satisfy
// ScryptParamsValid. INTERNAL if OpenSSL fails.
Status DeriveKek(const SecretBytes& passphrase, std::string_view salt, uint64_t n, uint64_t r,
                 uint64_t p, KeyBuffer* kek) {
  uint64_t maxmem = 128 * r * (n + p + 2);
  if (EVP_PBE_scrypt(passphrase.reveal().data(), passphrase.size(), U8(salt), salt.size(), n, r, p,
                     maxmem, kek->data(), kek->size()) != 1) {
    return Internal("scrypt key derivation failed");
  }
  return Status::Ok();
}

std::string WrapAad(std::string_view key_id) {
  std::string aad(kWrapAadPrefix);
  aad.append(key_id);
  return aad;
}

// The default root of trust: a key-encryption key derived from a passphrase
// with scrypt. Unwrap uses the scrypt parameters stored in the record, so a
// key wrapped under other parameters still opens.
class PassphraseRootOfTrust final : public RootOfTrust {
 public:
  PassphraseRootOfTrust(SecretBytes passphrase, ScryptParams params)
      : passphrase_(std::move(passphrase)), params_(params) {}

  StatusOr<pb::WrappedDataKey> Wrap(const SecretBytes& data_key) const override {
    if (data_key.size() != kDataKeyBytes) {
      return InvalidArgument("data key must be " + std::to_string(kDataKeyBytes) + " bytes, got " +
                             std::to_string(data_key.size()));
    }
    std::string salt(kSaltBytes, '\0');
    std::string key_id_bytes(kKeyIdBytes, '\0');
    std::string nonce(kNonceBytes, '\0');
    COFFER_RETURN_IF_ERROR(RandomBytes(U8(salt), salt.size()));
    COFFER_RETURN_IF_ERROR(RandomBytes(U8(key_id_bytes), key_id_bytes.size()));
    COFFER_RETURN_IF_ERROR(RandomBytes(U8(nonce), nonce.size()));
    std::string key_id = ToHex(key_id_bytes);

    KeyBuffer kek;
    COFFER_RETURN_IF_ERROR(DeriveKek(passphrase_, salt, params_.n, params_.r, params_.p, &kek));
    COFFER_ASSIGN_OR_RETURN(std::string ciphertext,
                            GcmEncrypt(kek.data(), nonce, data_key.reveal(), WrapAad(key_id)));

    pb::WrappedDataKey wrapped;
    wrapped.set_kdf(std::string(kScryptKdf));
    wrapped.set_salt(std::move(salt));
    wrapped.set_scrypt_n(params_.n);
    wrapped.set_scrypt_r(params_.r);
    wrapped.set_scrypt_p(params_.p);
    wrapped.set_nonce(std::move(nonce));
    wrapped.set_ciphertext(std::move(ciphertext));
    wrapped.set_key_id(std::move(key_id));
    return wrapped;
  }

  StatusOr<SecretBytes> Unwrap(const pb::WrappedDataKey& wrapped) const override {
    const std::string damaged = "wrapped data key record is damaged: ";
    if (wrapped.kdf() != kScryptKdf) {
      return PermissionDenied(damaged + "kdf is '" + wrapped.kdf() +
                              "', expected 'scrypt' (is it from another root of trust?)");
    }
    if (wrapped.salt().empty() || wrapped.key_id().empty() ||
        wrapped.nonce().size() != kNonceBytes ||
        wrapped.ciphertext().size() != kDataKeyBytes + kTagBytes) {
      return PermissionDenied(damaged + "salt, key id, nonce or ciphertext has a wrong size");
    }
    if (!ScryptParamsValid(wrapped.scrypt_n(), wrapped.scrypt_r(), wrapped.scrypt_p())) {
      return PermissionDenied(damaged + "scrypt parameters out of range");
    }
    KeyBuffer kek;
    COFFER_RETURN_IF_ERROR(DeriveKek(passphrase_, wrapped.salt(), wrapped.scrypt_n(),
                                     wrapped.scrypt_r(), wrapped.scrypt_p(), &kek));
    StatusOr<SecretBytes> key =
        GcmDecrypt(kek.data(), wrapped.nonce(), wrapped.ciphertext(), WrapAad(wrapped.key_id()));
    if (!key.ok()) {
      if (key.status().code() != Code::kDataLoss) return key.status();
      return PermissionDenied("cannot unwrap data key " + wrapped.key_id() +
                              ": wrong passphrase, or the wrapped data key record is damaged");
    }
    return key;
  }

 private:
  SecretBytes passphrase_;
  ScryptParams params_;
};

}  // namespace

StatusOr<SecretBytes> RandomSecret(size_t n) {
  std::string bytes(n, '\0');
  Status status = RandomBytes(U8(bytes), n);
  if (!status.ok()) {
    WipeString(bytes);
    return status;
  }
  return SecretBytes(std::move(bytes));
}

StatusOr<std::unique_ptr<Sealer>> Sealer::Create(const SecretBytes& data_key) {
  if (data_key.size() != kDataKeyBytes) {
    return InvalidArgument("data key must be " + std::to_string(kDataKeyBytes) + " bytes, got " +
                           std::to_string(data_key.size()));
  }
  return std::unique_ptr<Sealer>(new Sealer(data_key));
}

// The key schedule is computed once per Sealer, not per seal (it was most of
// the cost of sealing 256 bytes); each call sets only its nonce.
struct Sealer::Contexts {
  std::mutex mu;
  CipherCtx seal;
  CipherCtx open;
  // Nonces are taken from this pool of RAND_bytes output, refilled when it
  // runs out: one RAND_bytes call per 341 seals instead of one per seal
  // (OpenSSL 3's call overhead was ~3/4 of a seal's CPU under write load,
  // bench/README.md). The bytes are the same CSPRNG output either way.
  std::array<unsigned char, 4092> nonce_pool{};
  size_t nonce_pool_used = sizeof(nonce_pool);
};

Sealer::Sealer(SecretBytes key) : key_(std::move(key)), contexts_(std::make_unique<Contexts>()) {
  contexts_->seal = KeyedGcmContext(U8(key_.reveal()), /*encrypt=*/true);
  contexts_->open = KeyedGcmContext(U8(key_.reveal()), /*encrypt=*/false);
}

Sealer::~Sealer() = default;

// The nonce is random per seal: with 96-bit random nonces one key stays well
// within GCM's limits for 2^32 seals.
StatusOr<std::string> Sealer::Seal(std::string_view plaintext, std::string_view aad) const {
  std::string nonce(kNonceBytes, '\0');
  StatusOr<std::string> encrypted = Internal("no cipher context");
  {
    std::lock_guard<std::mutex> lock(contexts_->mu);
    auto& pool = contexts_->nonce_pool;
    if (contexts_->nonce_pool_used + kNonceBytes > pool.size()) {
      COFFER_RETURN_IF_ERROR(RandomBytes(pool.data(), pool.size()));
      contexts_->nonce_pool_used = 0;
    }
    std::memcpy(nonce.data(), pool.data() + contexts_->nonce_pool_used, kNonceBytes);
    contexts_->nonce_pool_used += kNonceBytes;  // each pool byte is used once
    if (contexts_->seal) encrypted = GcmEncryptKeyed(contexts_->seal.get(), nonce, plaintext, aad);
  }
  COFFER_ASSIGN_OR_RETURN(std::string body, std::move(encrypted));
  std::string sealed;
  sealed.reserve(1 + nonce.size() + body.size());
  sealed.push_back(static_cast<char>(kSealFormatVersion));
  sealed.append(nonce);
  sealed.append(body);
  return sealed;
}

StatusOr<SecretBytes> Sealer::Open(std::string_view sealed, std::string_view aad) const {
  if (sealed.size() < kSealOverhead) {
    return DataLoss("sealed data too short: " + std::to_string(sealed.size()) + " bytes, minimum " +
                    std::to_string(kSealOverhead));
  }
  uint8_t version = static_cast<uint8_t>(sealed[0]);
  if (version != kSealFormatVersion) {
    return DataLoss("unknown sealed format version " + std::to_string(version));
  }
  StatusOr<SecretBytes> plain = Internal("no cipher context");
  {
    std::lock_guard<std::mutex> lock(contexts_->mu);
    if (contexts_->open) {
      plain = GcmDecryptKeyed(contexts_->open.get(), sealed.substr(1, kNonceBytes),
                              sealed.substr(1 + kNonceBytes), aad);
    }
  }
  if (!plain.ok() && plain.status().code() == Code::kDataLoss) {
    return DataLoss(
        "sealed data failed authentication: damaged, sealed under another key, or moved from "
        "another object");
  }
  return plain;
}

namespace {

Status CheckScrypt(const SecretBytes& passphrase, const ScryptParams& params) {
  if (passphrase.empty()) return InvalidArgument("passphrase is empty");
  if (!ScryptParamsValid(params.n, params.r, params.p)) {
    return InvalidArgument(
        "scrypt parameters out of range: n must be a power of two >= 2, r and p "
        ">= 1, and 128*r*(n+p+2) at most 1 GiB");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<SecretBytes> DeriveScryptKey(const SecretBytes& secret, std::string_view salt,
                                      const ScryptParams& params) {
  COFFER_RETURN_IF_ERROR(CheckScrypt(secret, params));
  KeyBuffer key;
  COFFER_RETURN_IF_ERROR(DeriveKek(secret, salt, params.n, params.r, params.p, &key));
  return SecretBytes(std::string(reinterpret_cast<const char*>(key.data()), key.size()));
}

StatusOr<std::unique_ptr<RootOfTrust>> NewPassphraseRootOfTrust(SecretBytes passphrase,
                                                                ScryptParams params) {
  COFFER_RETURN_IF_ERROR(CheckScrypt(passphrase, params));
  return std::unique_ptr<RootOfTrust>(
      std::make_unique<PassphraseRootOfTrust>(std::move(passphrase), params));
}

}  // namespace coffer::storage
