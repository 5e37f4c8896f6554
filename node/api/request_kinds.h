// The one table of client API request kinds: for every request (and every
// write's op) its stable name, what kind of request it is, which certificate
// roles may send it and which node states serve it. The node (node/node.cc),
// the request handler (node/api/request_handler.cc), the failover client and
// the CLI all classify requests through this table only; docs/lifecycle.md
// records the decisions behind the "serves" column.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"
#include "proto/records.pb.h"

namespace coffer::node {

// Roles (certificate OU) on the client API.
inline constexpr std::string_view kAdminRole = "admin";
inline constexpr std::string_view kNodeRole = "node";
inline constexpr std::string_view kEndpointRole = "endpoint";

// What a request does, which decides how the node routes it.
enum class RequestClass {
  // Reads objects, wallets, endpoints or conflicts: no side effects; served
  // only by a node whose data is current (see ServingState).
  kDataRead,
  // A critical write: acknowledged once the pair peer has it. Served only
  // in read-write mode; the replication core answers READ_ONLY_NODE,
  // READ_ONLY_RESTRICTED or UNAVAILABLE in the other modes (a DISABLING,
  // DISABLED or ENABLING node is unavailable for writes). A client's
  // node_add takes this path too (joins write it on the controller).
  kDataWrite,
  // A node state or cluster setting (disable, enable, delete, force delete,
  // cluster set): written on the node it is sent to without the pair rule,
  // in every state and mode (enable runs on a DISABLED node).
  kLifecycle,
  // cluster init: a standalone node's store write; the node then enters
  // cluster mode.
  kClusterInit,
  // node status, cluster status: what the node knows about itself and the
  // cluster, in every state.
  kStatus,
  // join token, join, snapshot chunk: the controller side of induction
  // (node/cluster/controller.h).
  kInduction,
  // An op only the cluster itself writes (node_add: a controller writes it
  // for a candidate that joined with a token, InductionController::Join ->
  // write_unpaired, never through the client API). No role may send it:
  // PERMISSION_DENIED.
  kInternal,
};

// The state a node serves requests in. kStandalone: no cluster (or this
// node is not in the membership it read); kExpired: DISABLED past its
// window (semantics.md section 5).
enum class ServingState : uint8_t {
  kStandalone,
  kPending,
  kActive,
  kDisabling,
  kDisabled,
  kEnabling,
  kExpired,
};

// Bit sets over roles and serving states.
using RoleSet = uint8_t;
inline constexpr RoleSet kNoCaller = 0;  // internal ops (RequestClass::kInternal)
inline constexpr RoleSet kAdmin = 1 << 0;
inline constexpr RoleSet kNode = 1 << 1;
inline constexpr RoleSet kEndpoint = 1 << 2;

using StateSet = uint8_t;
constexpr StateSet StateBit(ServingState s) { return StateSet{1} << static_cast<int>(s); }
inline constexpr StateSet kEveryState = (StateSet{1} << 7) - 1;
// Nodes whose data is current: reads go elsewhere from the others (their
// data may be stale, and a key vault must not hand out a key revoked
// elsewhere).
inline constexpr StateSet kCurrentData = StateBit(ServingState::kStandalone) |
                                         StateBit(ServingState::kPending) |
                                         StateBit(ServingState::kActive);

struct RequestKind {
  std::string_view name;          // "get", "create_key", ...: audit lines, metrics labels
  pb::Request::KindCase request;  // the request's case
  pb::Op::OpCase op;              // for writes, the op's case (else OP_NOT_SET)
  RequestClass request_class;
  RoleSet callers;  // who may send it
  StateSet serves;  // which node states answer it
  // Always written to the audit log (AuditRequest), not only when refused
  // or failed: every write, join and join token.
  bool audited = false;
};

// Every row of the table, one per request kind and per write op, then the
// two fallbacks ("write" for a write naming no op, "empty" for a request
// naming none).
std::span<const RequestKind> RequestKinds();

// The row of `request` (a fallback row if it names no known kind).
const RequestKind& KindOf(const pb::Request& request);
// The row of a write carrying `op`.
const RequestKind& KindOfOp(const pb::Op& op);

// OK if `who` may send `request`, else PERMISSION_DENIED naming the role
// needed. Internal ops are PERMISSION_DENIED for every role, and so are the
// internal values of a client op (ClientMayWrite).
Status AuthorizeRequest(const pb::Request& request, const ClientIdentity& who);

// OK if a client may send a write carrying `op` at all, else
// PERMISSION_DENIED: node_add (kInternal), and node_state with a state other
// than DISABLING (`node disable`) or ENABLING (`node enable`): PENDING,
// ACTIVE and DISABLED are written by the node itself (its lifecycle driver,
// or a join).
Status ClientMayWrite(const pb::Op& op);

// The serving state of a node in `state` at wall time `now_micros`.
ServingState ServingStateOf(const pb::StoredNode& self, const pb::StoredCluster& cluster,
                            int64_t now_micros);
std::string_view ServingStateName(ServingState state);

// OK if a node in `state` serves `request`, else UNAVAILABLE ("this node is
// DISABLED: its data may be stale; ask another node"), which failover
// clients take as "ask another node".
Status CheckServes(const pb::Request& request, ServingState state);

// Table shorthands.
bool IsDataRead(const pb::Request& request);
// A data write, lifecycle step or cluster init: refused while the node's
// store is in a storage fault (docs/storage-faults.md).
bool WritesStore(const pb::Request& request);
// A data read or a status request: no side effects, safe to send again to
// any node (the failover client's reads).
bool HasNoSideEffects(const pb::Request& request);
// A data read or data write: any enabled member may answer it, so a client
// may fail it over (lifecycle steps, cluster init, status and induction go to
// the node they are meant for).
bool AnyMemberMayServe(const pb::Request& request);
bool IsLifecycleOp(const pb::Op& op);
std::string_view RequestKindName(const pb::Request& request);

}  // namespace coffer::node
