// Turns one client request into calls on the ObjectStore and one response.
// Synchronous and free of I/O so it is testable on its own; the node runs it
// on its store thread (the store's single owner).
#pragma once

#include <functional>
#include <string>

#include "node/net/tls.h"
#include "proto/api.pb.h"
#include "storage/object_store.h"

namespace coffer::node {

struct NodeInfo {
  std::string node_name;
  std::string listen;
  std::string peer_listen;   // where this node accepts peer links
  std::string peer_address;  // what other nodes dial (peer_advertise or peer_listen)
  std::string subgroup;
  int64_t started_micros = 0;
  // Cluster mode: fills mode, mode_reason and links of a NodeStatus (set by
  // the node once it runs replication; a standalone node is read-write).
  std::function<void(pb::NodeStatus*)> fill_replication;
};

// Roles (certificate OU) allowed on the client API. Administrators may do
// everything below; a node certificate may only join (JoinRequest) and fetch
// its induction snapshot (SnapshotChunkRequest). Endpoint certificates are
// refused with PERMISSION_DENIED until endpoint access through grants lands.
inline constexpr std::string_view kAdminRole = "admin";
inline constexpr std::string_view kNodeRole = "node";

// OK if `who` may send `request`, else PERMISSION_DENIED naming the role needed.
Status AuthorizeRequest(const pb::Request& request, const ClientIdentity& who);

// Fills in what only the node knows about itself (cluster_init).
pb::Op PrepareWrite(pb::Op op, const NodeInfo& info);

// Never throws. The response carries a stable code name and message. Key
// material appears in the response only for a get with include_material.
// Authorizes (AuthorizeRequest) and audits (AuditRequest) itself. Join,
// join-token and snapshot requests are the node's (node/node.cc): here they
// are INVALID_ARGUMENT.
pb::Response HandleRequest(storage::ObjectStore& store, const pb::Request& request,
                           const ClientIdentity& who, const NodeInfo& info,
                           storage::Durability durability, const Clock& clock);

// Reads of the key-management data (objects, wallets, endpoints, conflicts):
// no side effects, and any node holding the data may answer them.
bool IsDataRead(const pb::Request& request);

// Membership and cluster-setting writes (disable, enable, delete, cluster
// set): each is written on the node it is sent to, without the pair rule.
bool IsLifecycleOp(const pb::Op& op);

// A short stable name of the request's kind ("get", "create_key",
// "node_status", ...) for audit lines and metrics labels.
std::string_view RequestKindName(const pb::Request& request);

// "OK" response, or the error of `status`.
pb::Response ResponseFor(const Status& status);
// The response to a write: its OpResult, or its error.
pb::Response ResponseForWrite(const StatusOr<pb::OpResult>& result);

// The audit line of a request: who did what to which object, with the
// response code; never payloads or material. Logged for writes, material
// reads, and every refused or failed request.
void AuditRequest(const pb::Request& request, const ClientIdentity& who,
                  const pb::Response& response);

}  // namespace coffer::node
