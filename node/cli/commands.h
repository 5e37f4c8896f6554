// The `coffer` command tree, one Add*Commands per noun (one file each).
// Every command owns its flags; client commands start from `defaults`
// (ClientFlagsFromEnvironment).
#pragma once

#include <CLI/CLI.hpp>

#include "node/cli/cli_common.h"

namespace coffer::node::cli {

void AddConfigCommands(CLI::App& app);                                    // config_cmd.cc
void AddCertCommands(CLI::App& app);                                      // cert_cmd.cc
void AddNodeCommands(CLI::App& app, const ClientFlags& defaults);         // node_cmd.cc
void AddObjectCommands(CLI::App& app, const ClientFlags& defaults);       // object_cmd.cc
void AddWalletCommands(CLI::App& app, const ClientFlags& defaults);       // wallet_cmd.cc
void AddKeystoreCommands(CLI::App* wallet, const ClientFlags& defaults);  // keystore_cmd.cc
void AddWalletTransferCommands(CLI::App* wallet,
                               const ClientFlags& defaults);           // wallet_transfer_cmd.cc
void AddEndpointCommands(CLI::App& app, const ClientFlags& defaults);  // endpoint_cmd.cc
void AddConflictCommands(CLI::App& app, const ClientFlags& defaults);  // conflict_cmd.cc
void AddClusterCommands(CLI::App& app, const ClientFlags& defaults);   // cluster_cmd.cc
void AddUpgradeCommands(CLI::App& app, const ClientFlags& defaults);   // upgrade_cmd.cc
void AddAuditCommands(CLI::App& app);       // audit_cmd.cc: local audit files, no client flags
void AddCheckStoreCommand(CLI::App* node);  // check_store_cmd.cc: `node check-store`

}  // namespace coffer::node::cli
