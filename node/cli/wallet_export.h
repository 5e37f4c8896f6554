// The sealed file of `coffer wallet export|import` (docs/wallet-export.md):
// a wallet's objects, material and metadata under a key derived from a
// secret the caller gives. No I/O here.
//
// Layout (every integer big-endian):
//   "COFFER-WALLET-EXPORT\n"   magic (21 bytes)
//   1 byte                     format version (kWalletExportFormat)
//   8 + 4 + 4 bytes            scrypt n, r, p
//   16 bytes                   scrypt salt (random)
//   the rest                   storage::Sealer output: AES-256-GCM under the
//                              scrypt key of pb::WalletExport, with the
//                              header above as additional data
// so the header (version, parameters, salt) is authenticated with the
// contents: a wrong secret and any changed byte fail the same check.
#pragma once

#include <string>

#include "common/secret.h"
#include "common/status.h"
#include "proto/api.pb.h"
#include "storage/crypto.h"

namespace coffer::node::cli {

inline constexpr uint8_t kWalletExportFormat = 1;

// Seals `contents` under `secret` (scrypt with `params`, a fresh salt;
// OpenWalletExport accepts n <= 2^20, r <= 32, p <= 16). INVALID_ARGUMENT
// for an empty secret.
StatusOr<std::string> SealWalletExport(const pb::WalletExport& contents, const SecretBytes& secret,
                                       const storage::ScryptParams& params = {});

// The contents of a sealed export. DATA_LOSS, and nothing returned, if it is
// not a Coffer wallet export, names another format version, has a damaged
// header, or does not authenticate (a wrong secret, or any byte altered).
StatusOr<pb::WalletExport> OpenWalletExport(const std::string& sealed, const SecretBytes& secret);

}  // namespace coffer::node::cli
