// Planning the wallet, endpoint and rename ops: unique names, membership and
// grants, and renames (including accepting a generated name).
#include <string>

#include "storage/keys.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {

StatusOr<pb::LogRecord> ObjectStore::PlanWalletCreate(const pb::WalletCreateOp& c) {
  COFFER_RETURN_IF_ERROR(CheckFreeName(pb::ENTITY_WALLET, c.name(), "wallet"));
  if (c.description().size() > kMaxDescriptionBytes) {
    return InvalidArgument("description too long");
  }
  pb::LogRecord record;
  auto* b = record.mutable_wallet_created();
  b->set_uuid(NewEntityUuid());
  b->set_name(c.name());
  b->set_description(c.description());
  record.mutable_result()->set_uuid(b->uuid());
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanWalletMember(const pb::WalletMemberOp& c) {
  COFFER_ASSIGN_OR_RETURN(std::string wallet, ResolveWallet(c.wallet()));
  COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, LoadCreatedObject(c.object()));
  COFFER_ASSIGN_OR_RETURN(auto member,
                          LoadMessage<pb::StoredMember>(*kv_, keys::Member(wallet, o.uuid())));
  bool is_member = member && member->present();
  if (c.present() && is_member) {
    return AlreadyExists("object " + o.uuid() + " is already in wallet " + c.wallet());
  }
  if (!c.present() && !is_member) {
    return NotFound("object " + o.uuid() + " is not in wallet " + c.wallet());
  }
  pb::LogRecord record;
  auto* b = record.mutable_member_set();
  b->set_wallet(wallet);
  b->set_object(o.uuid());
  b->set_present(c.present());
  record.mutable_result()->set_uuid(wallet);
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanWalletTransfer(const pb::WalletTransferOp& c) {
  COFFER_ASSIGN_OR_RETURN(std::string source, ResolveWallet(c.source()));
  COFFER_ASSIGN_OR_RETURN(std::string target, ResolveWallet(c.target()));
  if (source == target) return InvalidArgument("a wallet cannot be merged or moved into itself");
  COFFER_ASSIGN_OR_RETURN(std::vector<std::string> members, WalletMembers(source));
  pb::LogRecord record;
  auto* b = record.mutable_members_moved();
  b->set_source(source);
  b->set_target(target);
  b->set_move(c.move());
  for (const std::string& object : members) {
    if (static_cast<size_t>(b->objects_size()) == limits::kMaxMembersPerTransfer) break;
    // A merge skips members the target already has; a move takes them too
    // (they still leave the source).
    COFFER_ASSIGN_OR_RETURN(bool in_target, InWallet(target, object));
    if (in_target && !c.move()) continue;
    b->add_objects(object);
  }
  if (b->objects().empty()) {
    return AlreadyExists(c.move() ? "wallet " + c.source() + " has no members to move"
                                  : "every member of wallet " + c.source() + " is already in " +
                                        c.target());
  }
  record.mutable_result()->set_uuid(target);
  record.mutable_result()->set_count(static_cast<uint32_t>(b->objects_size()));
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanEndpointCreate(const pb::EndpointCreateOp& c) {
  COFFER_RETURN_IF_ERROR(CheckFreeName(pb::ENTITY_ENDPOINT, c.name(), "endpoint"));
  if (c.description().size() > kMaxDescriptionBytes) {
    return InvalidArgument("description too long");
  }
  pb::LogRecord record;
  auto* b = record.mutable_endpoint_created();
  b->set_uuid(NewEntityUuid());
  b->set_name(c.name());
  b->set_certificate_subject(c.certificate_subject().empty() ? c.name() : c.certificate_subject());
  b->set_description(c.description());
  record.mutable_result()->set_uuid(b->uuid());
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanEndpointGrant(const pb::EndpointGrantOp& c) {
  if (!pb::Access_IsValid(c.access())) return InvalidArgument("unknown access level");
  COFFER_ASSIGN_OR_RETURN(std::string endpoint, ResolveEndpoint(c.endpoint()));
  COFFER_ASSIGN_OR_RETURN(std::string wallet, ResolveWallet(c.wallet()));
  pb::LogRecord record;
  auto* b = record.mutable_grant_set();
  b->set_endpoint(endpoint);
  b->set_wallet(wallet);
  b->set_access(c.access());
  b->set_manage_wallet(c.manage_wallet());
  record.mutable_result()->set_uuid(endpoint);
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanEndpointBind(const pb::EndpointBindOp& c) {
  constexpr size_t kSha256Bytes = 32;
  if (c.public_key_sha256().size() != kSha256Bytes) {
    return InvalidArgument("endpoint bind needs the SHA-256 of the certificate's public key");
  }
  COFFER_ASSIGN_OR_RETURN(std::string endpoint, ResolveEndpoint(c.endpoint()));
  COFFER_ASSIGN_OR_RETURN(auto e, LoadMessage<pb::StoredEndpoint>(*kv_, keys::Endpoint(endpoint)));
  if (!e) return NotFound("no endpoint '" + c.endpoint() + "'");
  if (c.certificate_subject() != e->certificate_subject()) {
    return InvalidArgument("the certificate's CN is '" + c.certificate_subject() +
                           "' but endpoint '" + c.endpoint() + "' expects CN '" +
                           e->certificate_subject() + "'");
  }
  pb::LogRecord record;
  auto* b = record.mutable_endpoint_bound();
  b->set_endpoint(endpoint);
  b->set_public_key_sha256(c.public_key_sha256());
  record.mutable_result()->set_uuid(endpoint);
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanRename(const pb::RenameOp& c) {
  if (!Uuid::IsValid(c.uuid())) return InvalidArgument("'" + c.uuid() + "' is not a uuid");
  std::string supplied;
  bool created = false;
  if (c.kind() == pb::ENTITY_OBJECT) {
    COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, LoadCreatedObject(c.uuid()));
    supplied = o.name().name();
    created = IsLive(o);
  } else if (c.kind() == pb::ENTITY_WALLET) {
    COFFER_ASSIGN_OR_RETURN(auto w, LoadMessage<pb::StoredWallet>(*kv_, keys::Wallet(c.uuid())));
    if (w && w->created()) supplied = w->name().name(), created = true;
  } else if (c.kind() == pb::ENTITY_ENDPOINT) {
    COFFER_ASSIGN_OR_RETURN(auto e,
                            LoadMessage<pb::StoredEndpoint>(*kv_, keys::Endpoint(c.uuid())));
    if (e && e->created()) supplied = e->name().name(), created = true;
  } else {
    return InvalidArgument("rename needs an entity kind (object, wallet or endpoint)");
  }
  if (!created) return NotFound("no live entity " + c.uuid());
  std::string name;
  if (c.accept_generated()) {
    COFFER_ASSIGN_OR_RETURN(bool holds, HoldsName(c.kind(), supplied, c.uuid()));
    if (holds || supplied.empty()) {
      return InvalidState("entity " + c.uuid() + " is not in the conflict list");
    }
    name = merge::GeneratedName(supplied, c.uuid());
  } else {
    COFFER_RETURN_IF_ERROR(CheckFreeName(c.kind(), c.new_name(), "new"));
    name = c.new_name();
  }
  pb::LogRecord record;
  auto* b = record.mutable_renamed();
  b->set_kind(c.kind());
  b->set_uuid(c.uuid());
  b->set_name(name);
  record.mutable_result()->set_uuid(c.uuid());
  return record;
}

}  // namespace coffer::storage
