// What the commands that move a wallet's objects through files share
// (`wallet upload|download`, keystore_cmd.cc; `wallet export|import|merge|
// move`, wallet_transfer_cmd.cc): reading a secret, writing a new private
// file, one write, a name's holder, and a wallet's objects with material.
#pragma once

#include <string>
#include <vector>

#include "common/secret.h"
#include "common/status.h"
#include "node/cli/cli_common.h"

namespace coffer::node::cli {

// A password or secret: the first line of `file`, or the value of the
// environment variable `env` (never a command-line value, which `ps` would
// show). `what` names it in errors ("keystore password").
StatusOr<SecretBytes> ReadSecretFlag(const std::string& file, const std::string& env,
                                     const std::string& what);

// --WORD-file and --WORD-env (one or the other) into *file and *env, for
// ReadSecretFlag; `what` names the secret in the help.
void AddSecretSourceFlags(CLI::App* cmd, const std::string& word, std::string* file,
                          std::string* env, const std::string& what);

// Creates `path` (it must not exist: ALREADY_EXISTS) readable by its owner
// only, and writes `bytes` into it; a failed write leaves no file.
Status WriteNewPrivateFile(const std::string& path, const std::string& bytes);

// One write; the uuid it answered.
StatusOr<std::string> WriteOp(const ClientFlags& client, const pb::Op& op);

// The uuid of the live object named `name` ("" if none, or no name).
StatusOr<std::string> ObjectNamed(const ClientFlags& client, const std::string& name);

// The wallet's members, each with its material, in uuid order, read with
// WalletObjectsRequest pages (audited with `purpose`; feature
// wallet-keystore for a download, wallet-export for an export); `left_out`
// gets "UUID (why)" for each member without material to give (not
// extractable, destroyed).
struct WalletMaterial {
  pb::WalletView wallet;
  std::vector<pb::ObjectView> objects;
  std::vector<std::string> left_out;
};
StatusOr<WalletMaterial> FetchWalletMaterial(const ClientFlags& client, const std::string& wallet,
                                             pb::WalletObjectsPurpose purpose);

}  // namespace coffer::node::cli
