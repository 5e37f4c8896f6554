#include "node/api/request_kinds.h"

#include <array>

#include "storage/membership.h"

namespace coffer::node {

namespace {

using K = pb::Request;
using O = pb::Op;
using C = RequestClass;

constexpr RoleSet kAdminOnly = kAdmin;
// Induction is a node's own business; an admin may do anything.
constexpr RoleSet kAdminOrNode = kAdmin | kNode;
// An endpoint certificate, within its grants (endpoint_access.h decides
// which objects and wallets; feature endpoint-access).
constexpr RoleSet kAdminOrEndpoint = kAdmin | kEndpoint;

// The table.
constexpr std::array kTable = {
    // Data reads: only a node whose data is current.
    RequestKind{"get", K::kGet, O::OP_NOT_SET, C::kDataRead, kAdminOrEndpoint, kCurrentData},
    RequestKind{"locate", K::kLocate, O::OP_NOT_SET, C::kDataRead, kAdminOrEndpoint, kCurrentData},
    RequestKind{"wallet_list", K::kWalletList, O::OP_NOT_SET, C::kDataRead, kAdminOrEndpoint,
                kCurrentData},
    RequestKind{"wallet_get", K::kWalletGet, O::OP_NOT_SET, C::kDataRead, kAdminOrEndpoint,
                kCurrentData},
    // A wallet's objects with their material (keystore download, export):
    // audited as a material read is (request_audit.cc), each page.
    RequestKind{"wallet_objects", K::kWalletObjects, O::OP_NOT_SET, C::kDataRead, kAdminOrEndpoint,
                kCurrentData},
    RequestKind{"endpoint_list", K::kEndpointList, O::OP_NOT_SET, C::kDataRead, kAdminOnly,
                kCurrentData},
    RequestKind{"conflict_list", K::kConflictList, O::OP_NOT_SET, C::kDataRead, kAdminOnly,
                kCurrentData},
    // Data writes: every state reaches the replication core, whose write
    // mode decides (see RequestClass::kDataWrite).
    RequestKind{"create_key", K::kWrite, O::kCreateKey, C::kDataWrite, kAdminOrEndpoint,
                kEveryState, true},
    RequestKind{"register", K::kWrite, O::kRegisterObject, C::kDataWrite, kAdminOrEndpoint,
                kEveryState, true},
    RequestKind{"set_attributes", K::kWrite, O::kSetAttributes, C::kDataWrite, kAdminOrEndpoint,
                kEveryState, true},
    RequestKind{"activate", K::kWrite, O::kActivate, C::kDataWrite, kAdminOrEndpoint, kEveryState,
                true},
    RequestKind{"revoke", K::kWrite, O::kRevoke, C::kDataWrite, kAdminOrEndpoint, kEveryState,
                true},
    RequestKind{"destroy", K::kWrite, O::kDestroy, C::kDataWrite, kAdminOnly, kEveryState, true},
    RequestKind{"wallet_create", K::kWrite, O::kWalletCreate, C::kDataWrite, kAdminOnly,
                kEveryState, true},
    RequestKind{"wallet_member", K::kWrite, O::kWalletMember, C::kDataWrite, kAdminOrEndpoint,
                kEveryState, true},
    RequestKind{"wallet_transfer", K::kWrite, O::kWalletTransfer, C::kDataWrite, kAdminOrEndpoint,
                kEveryState, true},
    RequestKind{"endpoint_create", K::kWrite, O::kEndpointCreate, C::kDataWrite, kAdminOnly,
                kEveryState, true},
    RequestKind{"endpoint_grant", K::kWrite, O::kEndpointGrant, C::kDataWrite, kAdminOrEndpoint,
                kEveryState, true},
    RequestKind{"rename", K::kWrite, O::kRename, C::kDataWrite, kAdminOnly, kEveryState, true},
    RequestKind{"rekey", K::kWrite, O::kRekey, C::kDataWrite, kAdminOnly, kEveryState, true},
    RequestKind{"endpoint_bind", K::kWrite, O::kEndpointBind, C::kDataWrite, kAdminOnly,
                kEveryState, true},
    // Internal: written by a controller when a candidate joins with a
    // token, never accepted from the client API (issue 11: an admin's raw
    // node_add made a PENDING member that never joined). Still audited when
    // refused.
    RequestKind{"node_add", K::kWrite, O::kNodeAdd, C::kInternal, kNoCaller, kEveryState, true},
    // Internal too: a node records its own release and fence, and raises the
    // cluster version, by itself (upgrade/cluster_version.h).
    RequestKind{"node_version", K::kWrite, O::kNodeVersion, C::kInternal, kNoCaller, kEveryState,
                true},
    RequestKind{"cluster_version", K::kWrite, O::kClusterVersion, C::kInternal, kNoCaller,
                kEveryState, true},
    // Cluster init, lifecycle and settings: every state.
    RequestKind{"cluster_init", K::kWrite, O::kClusterInit, C::kClusterInit, kAdminOnly,
                kEveryState, true},
    RequestKind{"node_state", K::kWrite, O::kNodeState, C::kLifecycle, kAdminOnly, kEveryState,
                true},
    RequestKind{"node_delete", K::kWrite, O::kNodeDelete, C::kLifecycle, kAdminOnly, kEveryState,
                true},
    RequestKind{"cluster_set", K::kWrite, O::kClusterSet, C::kLifecycle, kAdminOnly, kEveryState,
                true},
    // The rolling-upgrade plan (`coffer upgrade`): written by the
    // orchestrator, an admin client.
    RequestKind{"upgrade_plan", K::kWrite, O::kUpgradePlan, C::kLifecycle, kAdminOnly, kEveryState,
                true},
    // Status: every state. A node gathers the others' status for its
    // /status page (no data in it); an endpoint's failover client finds the
    // members through cluster_status.
    RequestKind{"node_status", K::kNodeStatus, O::OP_NOT_SET, C::kStatus, kAdminOrNode | kEndpoint,
                kEveryState},
    RequestKind{"cluster_status", K::kClusterStatus, O::OP_NOT_SET, C::kStatus, kAdminOrEndpoint,
                kEveryState},
    // Induction, controller side.
    RequestKind{"join_token", K::kJoinToken, O::OP_NOT_SET, C::kInduction, kAdminOnly, kEveryState,
                true},
    RequestKind{"join", K::kJoin, O::OP_NOT_SET, C::kInduction, kAdminOrNode, kEveryState, true},
    // Audited: a chunk carries plaintext material (only inside an open
    // transfer, node/cluster/controller.h).
    RequestKind{"snapshot_chunk", K::kSnapshotChunk, O::OP_NOT_SET, C::kInduction, kAdminOrNode,
                kEveryState, true},
    // Fallbacks: answered INVALID_ARGUMENT by the store or the handler.
    RequestKind{"write", K::kWrite, O::OP_NOT_SET, C::kDataWrite, kAdminOnly, kEveryState, true},
    RequestKind{"empty", K::KIND_NOT_SET, O::OP_NOT_SET, C::kStatus, kAdminOnly, kEveryState},
};

const RequestKind& Find(K::KindCase request, O::OpCase op) {
  for (const RequestKind& kind : kTable) {
    if (kind.request == request && kind.op == op) return kind;
  }
  // A case this build does not know (a newer client): the fallback rows.
  return request == K::kWrite ? Find(K::kWrite, O::OP_NOT_SET) : kTable.back();
}

RoleSet RoleOf(const ClientIdentity& who) {
  if (who.organizational_unit == kAdminRole) return kAdmin;
  if (who.organizational_unit == kNodeRole) return kNode;
  if (who.organizational_unit == kEndpointRole) return kEndpoint;
  return 0;
}

}  // namespace

std::span<const RequestKind> RequestKinds() { return kTable; }

const RequestKind& KindOfOp(const pb::Op& op) { return Find(K::kWrite, op.op_case()); }

const RequestKind& KindOf(const pb::Request& request) {
  if (request.kind_case() == K::kWrite) return KindOfOp(request.write());
  return Find(request.kind_case(), O::OP_NOT_SET);
}

Status ClientMayWrite(const pb::Op& op) {
  const RequestKind& kind = KindOfOp(op);
  if (kind.request_class == RequestClass::kInternal) {
    return PermissionDenied("op '" + std::string(kind.name) +
                            "' is internal to the cluster and never accepted from the client "
                            "API: a node is added by joining with a token (`coffer cluster "
                            "join-token`, then `coffer node start --join`)");
  }
  if (op.has_node_state() && op.node_state().state() != pb::NODE_DISABLING &&
      op.node_state().state() != pb::NODE_ENABLING) {
    return PermissionDenied(
        "a client may set DISABLING (node disable) or ENABLING (node enable); PENDING, ACTIVE "
        "and DISABLED are written by the node itself");
  }
  return Status::Ok();
}

Status AuthorizeRequest(const pb::Request& request, const ClientIdentity& who) {
  const RequestKind& kind = KindOf(request);
  if (request.has_write()) COFFER_RETURN_IF_ERROR(ClientMayWrite(request.write()));
  if ((kind.callers & RoleOf(who)) != 0) return Status::Ok();
  bool node_request = kind.request_class == RequestClass::kInduction && (kind.callers & kNode);
  if (!node_request && who.organizational_unit == kEndpointRole) {
    return PermissionDenied("an endpoint certificate may not use '" + std::string(kind.name) +
                            "': an administrator's request (docs/endpoints.md)");
  }
  return PermissionDenied(
      "certificate role '" + who.organizational_unit + "' may not use the " +
      (node_request ? "join requests (needs role 'node')" : "client API (needs role 'admin')"));
}

ServingState ServingStateOf(const pb::StoredNode& self, const pb::StoredCluster& cluster,
                            int64_t now_micros) {
  switch (storage::StoredState(self)) {
    case pb::NODE_PENDING:
      return ServingState::kPending;
    case pb::NODE_DISABLING:
      return ServingState::kDisabling;
    case pb::NODE_DISABLED:
      return storage::DisableExpired(self, cluster, now_micros) ? ServingState::kExpired
                                                                : ServingState::kDisabled;
    case pb::NODE_ENABLING:
      return ServingState::kEnabling;
    default:
      return ServingState::kActive;
  }
}

std::string_view ServingStateName(ServingState state) {
  switch (state) {
    case ServingState::kStandalone:
      return "STANDALONE";
    case ServingState::kPending:
      return "PENDING";
    case ServingState::kActive:
      return "ACTIVE";
    case ServingState::kDisabling:
      return "DISABLING";
    case ServingState::kDisabled:
      return "DISABLED";
    case ServingState::kEnabling:
      return "ENABLING";
    case ServingState::kExpired:
      return "EXPIRED";
  }
  return "UNKNOWN";
}

Status CheckServes(const pb::Request& request, ServingState state) {
  if ((KindOf(request).serves & StateBit(state)) != 0) return Status::Ok();
  return Unavailable("this node is " + std::string(ServingStateName(state)) +
                     ": its data may be stale; ask another node");
}

bool IsDataRead(const pb::Request& request) {
  return KindOf(request).request_class == RequestClass::kDataRead;
}

bool WritesStore(const pb::Request& request) {
  RequestClass c = KindOf(request).request_class;
  return c == RequestClass::kDataWrite || c == RequestClass::kLifecycle ||
         c == RequestClass::kClusterInit;
}

bool HasNoSideEffects(const pb::Request& request) {
  RequestClass c = KindOf(request).request_class;
  return c == RequestClass::kDataRead || c == RequestClass::kStatus;
}

bool AnyMemberMayServe(const pb::Request& request) {
  RequestClass c = KindOf(request).request_class;
  return c == RequestClass::kDataRead || c == RequestClass::kDataWrite;
}

bool IsLifecycleOp(const pb::Op& op) {
  return KindOfOp(op).request_class == RequestClass::kLifecycle;
}

std::string_view RequestKindName(const pb::Request& request) { return KindOf(request).name; }

}  // namespace coffer::node
