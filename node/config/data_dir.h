// A node's data directory: its identity file and its store.
//
// Layout (node/README.md):
//   <data_dir>/identity   "node_id = N", "cluster_id = UUID" and
//                          "node_name = NAME" lines, written once when the
//                          node is inducted or its cluster created
//                          (atomically: a temp file, fsync, rename). Absent:
//                          the node is standalone (id 1). node_name is
//                          absent from files of releases before issue 11;
//                          the start-up check then asks the store's
//                          membership (cluster/startup_identity.h).
//   <data_dir>/db/        RocksDB (storage/).
//   <data_dir>/inductions/ checkpoints of open induction transfers, when this
//                          node is a controller (induction_transfers.h).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/ids.h"
#include "common/rng.h"
#include "common/secret.h"
#include "common/status.h"
#include "node/config/config.h"
#include "storage/crypto.h"
#include "storage/object_store.h"

namespace coffer::node {

struct NodeIdentity {
  uint32_t node_id = 0;
  std::string cluster_id;
  std::string node_name;  // "" in files written before it was recorded
};

// nullopt if there is no identity file; DATA_LOSS if it is malformed.
StatusOr<std::optional<NodeIdentity>> ReadIdentity(const std::string& data_dir);
// Creates the directory if needed; durable when it returns.
Status WriteIdentity(const std::string& data_dir, const NodeIdentity& identity);

// The node's store, opened with the root of trust of `config`.
struct OpenedStore {
  std::unique_ptr<storage::RootOfTrust> root;
  // Signs this node's records with its node key (config.tls.key_file;
  // storage/record_auth.h).
  std::unique_ptr<storage::RecordSigner> signer;
  std::unique_ptr<storage::ObjectStore> store;  // uses root and signer: destroy it first
};
// `confirm_names_on_apply` as in storage::ObjectStoreOptions. INVALID_ARGUMENT
// if the node key (config.tls.key_file) is not an EC P-256 key.
StatusOr<OpenedStore> OpenNodeStore(const NodeConfig& config, SecretBytes passphrase,
                                    NodeId node_id, bool confirm_names_on_apply, const Clock& clock,
                                    Rng& rng);

}  // namespace coffer::node
