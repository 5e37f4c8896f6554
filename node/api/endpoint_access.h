// Endpoint access through grants (feature endpoint-access, docs/endpoints.md):
// what a client certificate of role `endpoint` may do. An endpoint is bound
// to its certificate's public key (`endpoint bind`); from then on that
// certificate reaches only the wallets granted to the endpoint:
//   read-only     get (material only where extractable), locate and
//                 wallet list/show, limited to those wallets' objects
//   read-modify   also create and register objects into the wallet, and
//                 activate, revoke and set attributes of its objects
//   manage-wallet also add and remove members (objects it can read) and
//                 set other endpoints' grants on the wallet (never its own)
// plus node and cluster status (no key data: what a failover client needs
// to find the members). Everything else is PERMISSION_DENIED.
//
// Sans-IO: reads the store, decides, changes nothing. Runs on the store
// thread before a request is served (node.cc) and inside HandleRequest.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "node/net/tls.h"
#include "proto/api.pb.h"
#include "storage/object_store.h"

namespace coffer::node {

// The endpoint a certificate is bound to, with its grants.
struct EndpointScope {
  std::string uuid;
  std::string name;
  std::map<std::string, pb::GrantView> grants;  // wallet uuid -> grant (access above none)

  bool MayRead(const std::string& wallet_uuid) const;    // read-only or read-modify
  bool MayModify(const std::string& wallet_uuid) const;  // read-modify
  bool MayManage(const std::string& wallet_uuid) const;  // manage-wallet
};

// The endpoint bound to `who`'s certificate: nullopt for a caller of
// another role. PERMISSION_DENIED for an endpoint certificate whose public
// key no endpoint is bound to, or whose CN is not the bound endpoint's.
StatusOr<std::optional<EndpointScope>> EndpointScopeOf(const storage::ObjectStore& store,
                                                       const ClientIdentity& who);

// Whether the endpoint may read object `uuid`: it is a member of a wallet
// the endpoint has read-only or read-modify on.
StatusOr<bool> EndpointSees(const storage::ObjectStore& store, const EndpointScope& scope,
                            const std::string& uuid);

// OK if `scope` allows `request` (above); PERMISSION_DENIED naming the
// endpoint, what it lacks and on which wallet or object. An object or
// wallet the endpoint cannot see is refused the same way whether or not it
// exists.
Status AuthorizeEndpoint(const storage::ObjectStore& store, const EndpointScope& scope,
                         const pb::Request& request);

// EndpointScopeOf then AuthorizeEndpoint; OK for callers of other roles.
Status AuthorizeCaller(const storage::ObjectStore& store, const pb::Request& request,
                       const ClientIdentity& who);

// Fills in an endpoint bind from its certificate (EndpointBindOp): the
// SHA-256 of its public key and its CN. INVALID_ARGUMENT if the PEM does not
// parse or its role is not endpoint. Other ops are returned unchanged.
StatusOr<pb::Op> PrepareEndpointBind(pb::Op op);

}  // namespace coffer::node
