#include "node/api/endpoint_access.h"

#include "node/api/request_kinds.h"
#include "storage/crypto.h"

namespace coffer::node {
namespace {

using AccessTest = bool (EndpointScope::*)(const std::string&) const;

// Whether object `uuid` is in a wallet for which `may` holds.
StatusOr<bool> InAWallet(const storage::ObjectStore& store, const EndpointScope& scope,
                         const std::string& uuid, AccessTest may) {
  for (const auto& [wallet, grant] : scope.grants) {
    if (!(scope.*may)(wallet)) continue;
    COFFER_ASSIGN_OR_RETURN(bool member, store.InWallet(wallet, uuid));
    if (member) return true;
  }
  return false;
}

Status Denied(const EndpointScope& scope, const std::string& what) {
  return PermissionDenied("endpoint '" + scope.name + "' " + what + " (docs/endpoints.md)");
}

// Object `uuid` must be in a wallet for which `may` holds.
Status RequireObject(const storage::ObjectStore& store, const EndpointScope& scope,
                     const std::string& uuid, AccessTest may, const std::string& access) {
  COFFER_ASSIGN_OR_RETURN(bool allowed, InAWallet(store, scope, uuid, may));
  if (allowed) return Status::Ok();
  return Denied(scope, "has no " + access + " grant on a wallet holding object '" + uuid + "'");
}

// Wallet `name_or_uuid` must exist and `may` hold for it.
Status RequireWallet(const storage::ObjectStore& store, const EndpointScope& scope,
                     const std::string& name_or_uuid, AccessTest may, const std::string& access) {
  auto wallet = store.ResolveWallet(name_or_uuid);
  if (!wallet.ok() && wallet.status().code() != Code::kNotFound) return wallet.status();
  if (wallet.ok() && (scope.*may)(*wallet)) return Status::Ok();
  return Denied(scope, "has no " + access + " grant on wallet '" + name_or_uuid + "'");
}

Status AuthorizeWrite(const storage::ObjectStore& store, const EndpointScope& scope,
                      const pb::Op& op) {
  const auto modify = &EndpointScope::MayModify;
  const auto manage = &EndpointScope::MayManage;
  switch (op.op_case()) {
    case pb::Op::kCreateKey:
    case pb::Op::kRegisterObject: {
      const std::string& wallet =
          op.has_create_key() ? op.create_key().wallet() : op.register_object().wallet();
      if (wallet.empty()) {
        return Denied(scope,
                      "creates objects only into a wallet it has read-modify on: name it "
                      "(--wallet)");
      }
      return RequireWallet(store, scope, wallet, modify, "read-modify");
    }
    case pb::Op::kSetAttributes:
      return RequireObject(store, scope, op.set_attributes().uuid(), modify, "read-modify");
    case pb::Op::kActivate:
      return RequireObject(store, scope, op.activate().uuid(), modify, "read-modify");
    case pb::Op::kRevoke:
      return RequireObject(store, scope, op.revoke().uuid(), modify, "read-modify");
    case pb::Op::kWalletMember: {
      COFFER_RETURN_IF_ERROR(
          RequireWallet(store, scope, op.wallet_member().wallet(), manage, "manage-wallet"));
      // Adding an object it could not read would let it read it.
      if (!op.wallet_member().present()) return Status::Ok();
      return RequireObject(store, scope, op.wallet_member().object(), &EndpointScope::MayRead,
                           "read-only or read-modify");
    }
    case pb::Op::kWalletTransfer: {
      // Both wallets' membership changes hands: manage-wallet on the target,
      // and on the source to move; reading the source's members is implied
      // by adding them elsewhere (as for wallet_member).
      const pb::WalletTransferOp& t = op.wallet_transfer();
      COFFER_RETURN_IF_ERROR(RequireWallet(store, scope, t.target(), manage, "manage-wallet"));
      COFFER_RETURN_IF_ERROR(RequireWallet(store, scope, t.source(), &EndpointScope::MayRead,
                                           "read-only or read-modify"));
      if (!t.move()) return Status::Ok();
      return RequireWallet(store, scope, t.source(), manage, "manage-wallet");
    }
    case pb::Op::kEndpointGrant: {
      COFFER_RETURN_IF_ERROR(
          RequireWallet(store, scope, op.endpoint_grant().wallet(), manage, "manage-wallet"));
      // Managing a wallet is granting others; its own grant stays the
      // administrator's (else read-only + manage would make itself read-modify).
      auto grantee = store.ResolveEndpoint(op.endpoint_grant().endpoint());
      if (grantee.ok() && *grantee == scope.uuid) {
        return Denied(scope, "may not change its own grant");
      }
      return Status::Ok();
    }
    default:
      return Denied(scope, "may not use '" + std::string(KindOfOp(op).name) +
                               "': an administrator's operation");
  }
}

}  // namespace

bool EndpointScope::MayRead(const std::string& wallet_uuid) const {
  auto it = grants.find(wallet_uuid);
  return it != grants.end() && (it->second.access() == pb::ACCESS_READ_ONLY ||
                                it->second.access() == pb::ACCESS_READ_MODIFY);
}

bool EndpointScope::MayModify(const std::string& wallet_uuid) const {
  auto it = grants.find(wallet_uuid);
  return it != grants.end() && it->second.access() == pb::ACCESS_READ_MODIFY;
}

bool EndpointScope::MayManage(const std::string& wallet_uuid) const {
  auto it = grants.find(wallet_uuid);
  return it != grants.end() && it->second.manage_wallet();
}

StatusOr<std::optional<EndpointScope>> EndpointScopeOf(const storage::ObjectStore& store,
                                                       const ClientIdentity& who) {
  if (who.organizational_unit != kEndpointRole) return std::optional<EndpointScope>();
  // One scan of the endpoints per request: fine for the hundreds of
  // endpoints a cluster serves; an index by key would be the next step.
  COFFER_ASSIGN_OR_RETURN(auto endpoints, store.ListEndpoints());
  const std::string key = storage::ToHex(storage::Sha256(who.public_key));
  for (const pb::EndpointView& e : endpoints) {
    if (e.public_key_sha256() != key) continue;
    if (e.certificate_subject() != who.common_name) {
      return PermissionDenied("the certificate of CN '" + who.common_name +
                              "' has the key bound to endpoint '" + e.name() +
                              "', whose certificate CN is '" + e.certificate_subject() + "'");
    }
    EndpointScope scope{e.uuid(), e.name(), {}};
    for (const pb::GrantView& g : e.grants()) scope.grants[g.wallet()] = g;
    return std::optional<EndpointScope>(std::move(scope));
  }
  return PermissionDenied("the endpoint certificate of CN '" + who.common_name +
                          "' is bound to no endpoint: an administrator binds it with `coffer "
                          "endpoint bind NAME --endpoint-cert FILE` (docs/endpoints.md)");
}

StatusOr<bool> EndpointSees(const storage::ObjectStore& store, const EndpointScope& scope,
                            const std::string& uuid) {
  return InAWallet(store, scope, uuid, &EndpointScope::MayRead);
}

Status AuthorizeEndpoint(const storage::ObjectStore& store, const EndpointScope& scope,
                         const pb::Request& request) {
  switch (request.kind_case()) {
    case pb::Request::kGet:
      return RequireObject(store, scope, request.get().uuid(), &EndpointScope::MayRead,
                           "read-only or read-modify");
    case pb::Request::kWalletGet:
      return RequireWallet(store, scope, request.wallet_get().wallet(), &EndpointScope::MayRead,
                           "read-only or read-modify");
    case pb::Request::kWalletObjects:  // material only where extractable, as a get
      return RequireWallet(store, scope, request.wallet_objects().wallet(), &EndpointScope::MayRead,
                           "read-only or read-modify");
    case pb::Request::kLocate:
    case pb::Request::kWalletList:
      return Status::Ok();  // answered with what the endpoint may see only
    case pb::Request::kNodeStatus:
    case pb::Request::kClusterStatus:
      return Status::Ok();
    case pb::Request::kWrite:
      return AuthorizeWrite(store, scope, request.write());
    default:
      return Denied(scope, "may not use '" + std::string(RequestKindName(request)) +
                               "': an administrator's request");
  }
}

Status AuthorizeCaller(const storage::ObjectStore& store, const pb::Request& request,
                       const ClientIdentity& who) {
  COFFER_ASSIGN_OR_RETURN(auto scope, EndpointScopeOf(store, who));
  return scope ? AuthorizeEndpoint(store, *scope, request) : Status::Ok();
}

StatusOr<pb::Op> PrepareEndpointBind(pb::Op op) {
  if (!op.has_endpoint_bind()) return op;
  auto* bind = op.mutable_endpoint_bind();
  auto identity = CertificateIdentity(bind->certificate_pem());
  if (!identity.ok()) {
    return InvalidArgument("endpoint bind: the certificate does not parse: " +
                           identity.status().message());
  }
  if (identity->organizational_unit != kEndpointRole) {
    return InvalidArgument("endpoint bind: the certificate's role (OU) is '" +
                           identity->organizational_unit +
                           "'; an endpoint binds a certificate of role endpoint (`coffer cert "
                           "issue --role endpoint`)");
  }
  bind->set_public_key_sha256(storage::Sha256(identity->public_key));
  bind->set_certificate_subject(identity->common_name);
  bind->clear_certificate_pem();  // not kept: the key's hash is the binding
  return op;
}

}  // namespace coffer::node
