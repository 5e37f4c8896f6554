// Turns one client request into calls on the ObjectStore and one response.
// Synchronous and free of I/O so it is testable on its own; the node runs it
// on its store thread (the store's single owner).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "node/api/request_kinds.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"
#include "replication/replicator.h"
#include "storage/object_store.h"
#include "upgrade/gate.h"

namespace coffer::node {

namespace audit {
class AuditLog;
}

struct NodeInfo {
  std::string node_name;
  std::string listen;
  std::string peer_listen;   // where this node accepts peer links
  std::string peer_address;  // what other nodes dial (peer_advertise or peer_listen)
  std::string subgroup;
  int64_t started_micros = 0;
  int64_t cert_not_after = 0;  // the node certificate's notAfter (Unix s; 0 unknown)
  // Cluster mode: fills mode, mode_reason and links of a NodeStatus (set by
  // the node once it runs replication; a standalone node is read-write).
  std::function<void(pb::NodeStatus*)> fill_replication;
  // Fills storage_state, storage_fault and storage_free_bytes (the node's
  // StorageWatch; unset: not reported).
  std::function<void(pb::NodeStatus*)> fill_storage;
  // Cluster mode: the state this node serves in now (unset: standalone).
  std::function<ServingState()> serving_state;
  // Where audit lines go (AuditRequest); null: nowhere (unit tests).
  audit::AuditLog* audit = nullptr;
};

// Fills in what only the node knows: about itself (cluster_init), and what
// it reads from a certificate (endpoint_bind; INVALID_ARGUMENT if that does
// not parse or is no endpoint certificate).
StatusOr<pb::Op> PrepareWrite(pb::Op op, const NodeInfo& info);

// The checks a node makes before it serves a client request, in order:
// field limits (input_limits.h), who may ask what and which node states
// serve it (request_kinds.h), the feature gates of the request and of the
// caller (feature_gates.h), and an endpoint's grants (endpoint_access.h).
// OK, or the first refusal.
Status AdmitRequest(const storage::ObjectStore& store, const pb::Request& request,
                    const ClientIdentity& who, ServingState state,
                    const upgrade::GateSnapshot& gate);

// Never throws. The response carries a stable code name and message. Key
// material appears in the response only for a get with include_material.
// Authorizes (AuthorizeRequest), checks that this node's state serves the
// request (CheckServes; both by the table in request_kinds.h) and audits
// (AuditRequest) itself. Join, join-token and snapshot requests are the
// node's (node/cluster/controller.h): here they are INVALID_ARGUMENT.
pb::Response HandleRequest(storage::ObjectStore& store, const pb::Request& request,
                           const ClientIdentity& who, const NodeInfo& info,
                           storage::Durability durability, const Clock& clock);

// "OK" response, or the error of `status`.
pb::Response ResponseFor(const Status& status);
// The response to a write: its OpResult, or its error.
pb::Response ResponseForWrite(const StatusOr<pb::OpResult>& result);
// The answer to a replicated write: as ResponseForWrite, plus the record it
// made (outcome_record) when known, so an OUTCOME_UNKNOWN names what to retry.
pb::Response ResponseForWrite(const replication::WriteAnswer& answer);
// The record a retry names (`retry_of`), if the request names one.
std::optional<replication::RecordRef> RetryOf(const pb::Request& request);

// The audit line of a request (request_audit.h), appended to info.audit:
// who did what to which object, with the response code; never payloads or
// material. Written for writes, material reads, joins and join tokens, and
// every refused or failed request. The node log gets no audit lines.
void AuditRequest(const NodeInfo& info, const pb::Request& request, const ClientIdentity& who,
                  const pb::Response& response);

}  // namespace coffer::node
