// Start-up identity checks (issue 11): before a node opens its store or
// joins a cluster, it checks that it is who its configuration says, and
// refuses to start otherwise, having written nothing.
//
//  - Its certificate ([tls] cert_file) is a node certificate (role, the OU,
//    "node"; net/certs.h) whose CN is the node's name ([node] name): the
//    name every other member admits its links under (cluster/admission.h)
//    and the one its joins are checked against. An admin certificate, or a
//    node certificate of another name, is INVALID_ARGUMENT.
//  - Its data directory is its own: the identity file's node_name (when the
//    file records one) and, once the store is open, the name of the member
//    row of its node id (CheckStoredIdentity) are the configured name. A
//    copy of another node's data directory started under a new name is
//    INVALID_STATE. The store check covers identity files written before
//    node_name was recorded; it runs after the store opened (RocksDB's own
//    housekeeping files change then, no record does).
//
// The checks themselves are pure functions of what was read;
// CheckIdentityBeforeStart does the reading.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/config/config.h"
#include "node/config/data_dir.h"
#include "node/net/tls.h"
#include "proto/records.pb.h"

namespace coffer::node {

// What a node is about to start as.
struct StartupIdentity {
  std::string configured_name;           // [node] name
  ClientIdentity certificate;            // the subject of [tls] cert_file
  std::optional<NodeIdentity> recorded;  // <data_dir>/identity, if there is one
};

// OK, or INVALID_ARGUMENT (the certificate's role is not "node", or its CN
// is not the configured name) or INVALID_STATE (the identity file names
// another node). Messages start with "node certificate" or "data directory"
// and say what to fix.
Status CheckStartupIdentity(const StartupIdentity& facts);

// OK unless the member row of `node_id` in `members` carries a name other
// than `configured_name` (INVALID_STATE). No row (a standalone store, or a
// node deleted from its cluster) is OK here: removal is RemovalWatch's.
Status CheckStoredIdentity(const std::string& configured_name, uint32_t node_id,
                           const std::vector<pb::StoredNode>& members);

// Reads [tls] cert_file and <data_dir>/identity (writes nothing) and runs
// CheckStartupIdentity. A certificate that cannot be read or parsed is its
// reading error (NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT).
Status CheckIdentityBeforeStart(const NodeConfig& config);

}  // namespace coffer::node
