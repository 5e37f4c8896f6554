// Encryption at rest (semantics.md section 1).
//
// Key material and secret data are sealed with AES-256-GCM under a per-node
// 256-bit data key. The additional authenticated data (AAD) binds each
// ciphertext to where it belongs (object UUID and version), so a ciphertext
// copied to another object, or a flipped byte, fails to open with DATA_LOSS.
// The data key itself is stored only wrapped by the node's root of trust.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "common/status.h"
#include "proto/records.pb.h"

namespace coffer::storage {

inline constexpr size_t kDataKeyBytes = 32;

// `n` bytes from OpenSSL's CSPRNG. INTERNAL if the CSPRNG fails.
StatusOr<SecretBytes> RandomSecret(size_t n);

// Lower-case hex of `bytes`.
std::string ToHex(std::string_view bytes);
// The 32-byte SHA-256 of `bytes`; 32 0xff bytes only if OpenSSL itself
// fails (no chain or binding expects that value).
std::string Sha256(std::string_view bytes);

// Seals and opens with one data key. Thread-safe (no shared mutable state).
class Sealer {
 public:
  // INVALID_ARGUMENT unless data_key is kDataKeyBytes long.
  static StatusOr<std::unique_ptr<Sealer>> Create(const SecretBytes& data_key);

  // Sealed format: 1 byte format version (1) || 12-byte random nonce ||
  // ciphertext || 16-byte GCM tag.
  StatusOr<std::string> Seal(std::string_view plaintext, std::string_view aad) const;
  // DATA_LOSS if the input is malformed, the tag does not verify, or the AAD differs.
  StatusOr<SecretBytes> Open(std::string_view sealed, std::string_view aad) const;

  ~Sealer();

 private:
  explicit Sealer(SecretBytes key);
  SecretBytes key_;
  struct Contexts;  // the keyed cipher contexts (crypto.cc); thread-safe
  std::unique_ptr<Contexts> contexts_;
};

// Wraps and unwraps a node's data key. Implementations: a passphrase through
// scrypt (default); a PKCS#11 token later.
class RootOfTrust {
 public:
  virtual ~RootOfTrust() = default;
  virtual StatusOr<pb::WrappedDataKey> Wrap(const SecretBytes& data_key) const = 0;
  // PERMISSION_DENIED when the root of trust cannot open the wrapped key
  // (wrong passphrase or damaged record); the message says which to check.
  virtual StatusOr<SecretBytes> Unwrap(const pb::WrappedDataKey& wrapped) const = 0;
};

struct ScryptParams {
  uint64_t n = 1 << 15;  // Default: 2^15 (about 32 MiB, ~100 ms)
  uint32_t r = 8;
  uint32_t p = 1;
};

// INVALID_ARGUMENT for an empty passphrase, or scrypt parameters out of range
// (n a power of two >= 2, r and p >= 1, at most about 1 GiB of scrypt memory).
// Wrap uses `params`; Unwrap uses the parameters stored in the record.
StatusOr<std::unique_ptr<RootOfTrust>> NewPassphraseRootOfTrust(SecretBytes passphrase,
                                                                ScryptParams params = {});

// A kDataKeyBytes key from `secret` by scrypt with `salt` and `params` (for
// a Sealer: wallet export files). INVALID_ARGUMENT as above; INTERNAL if
// OpenSSL fails.
StatusOr<SecretBytes> DeriveScryptKey(const SecretBytes& secret, std::string_view salt,
                                      const ScryptParams& params);

}  // namespace coffer::storage
