// Planning the object ops: create-key, register, set-attributes and the KMIP
// lifecycle steps (activate, revoke, destroy).
#include <string>
#include <vector>

#include "storage/keys.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {
namespace {

// A lifecycle step of `uuid` to `to`, dated now in `date_attribute`.
pb::LogRecord LifecycleRecord(const std::string& uuid, const merge::Lifecycle& to,
                              pb::RevocationReason reason, const std::string& date_attribute,
                              int64_t now_micros) {
  pb::LogRecord record;
  auto* b = record.mutable_lifecycle_raised();
  b->set_uuid(uuid);
  b->set_stage(to.stage);
  b->set_compromised(to.compromised);
  b->set_reason(reason);
  (*b->mutable_attributes())[date_attribute] = IntValue(now_micros);
  record.mutable_result()->set_uuid(uuid);
  return record;
}

}  // namespace

StatusOr<pb::LogRecord> ObjectStore::PlanObjectCreation(
    pb::ObjectType type, const std::string& name,
    google::protobuf::Map<std::string, pb::AttributeValue> attributes, bool activate,
    const std::string& material, const std::string& comment, const std::string& wallet) {
  if (comment.size() > kMaxDescriptionBytes) {
    return InvalidArgument("a comment is at most " + std::to_string(kMaxDescriptionBytes) +
                           " bytes");
  }
  if (!name.empty()) COFFER_RETURN_IF_ERROR(CheckFreeName(pb::ENTITY_OBJECT, name, "object"));
  std::string wallet_uuid;
  if (!wallet.empty()) {
    COFFER_ASSIGN_OR_RETURN(wallet_uuid, ResolveWallet(wallet));
  }
  if (!attributes.count("extractable")) attributes["extractable"] = BoolValue(true);
  if (activate) attributes["activation_date"] = IntValue(clock_.WallMicros());
  pb::LogRecord record;
  auto* b = record.mutable_object_created();
  b->set_uuid(NewEntityUuid());
  b->set_type(type);
  b->set_name(name);
  *b->mutable_attributes() = std::move(attributes);
  b->set_stage(activate ? pb::STAGE_ACTIVE : pb::STAGE_PRE_ACTIVE);
  b->set_material(material);
  b->set_material_length(static_cast<uint32_t>(material.size()));
  b->set_comment(comment);  // a comment makes the record format 5 (RecordFormatOf)
  // Joins the wallet in this record (format 4), as a rekey's new key does.
  if (!wallet_uuid.empty()) b->add_in_wallets(wallet_uuid);
  record.mutable_result()->set_uuid(b->uuid());
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanCreateKey(const pb::CreateKeyOp& c) {
  if (c.type() != pb::SYMMETRIC_KEY && c.type() != pb::OBJECT_TYPE_UNSPECIFIED) {
    return InvalidArgument("create key makes symmetric keys; register other objects");
  }
  std::string algorithm = c.algorithm().empty() ? "AES" : c.algorithm();
  if (algorithm != "AES") return InvalidArgument("algorithm must be AES");
  // 64 bits wide on the wire: a value beyond 32 bits is refused, not truncated.
  const int64_t bits = c.length_bits() == 0 ? 256 : c.length_bits();
  if (bits != 128 && bits != 192 && bits != 256) {
    return InvalidArgument("AES key length must be 128, 192 or 256 bits, got " +
                           std::to_string(bits));
  }
  google::protobuf::Map<std::string, pb::AttributeValue> attributes = c.attributes();
  COFFER_RETURN_IF_ERROR(ValidateClientAttributes(attributes));
  COFFER_ASSIGN_OR_RETURN(SecretBytes material, RandomSecret(bits / 8));
  attributes["algorithm"] = TextValue(algorithm);
  attributes["length"] = IntValue(bits);
  return PlanObjectCreation(pb::SYMMETRIC_KEY, c.name(), std::move(attributes), c.activate(),
                            material.reveal(), c.comment(), c.wallet());
}

StatusOr<pb::LogRecord> ObjectStore::PlanRekey(const pb::RekeyOp& c) {
  COFFER_ASSIGN_OR_RETURN(pb::StoredObject old, LoadCreatedObject(c.uuid()));
  const pb::State state = StateAt(old, clock_.WallMicros());
  if (old.type() != pb::SYMMETRIC_KEY) {
    return InvalidArgument("rekey replaces symmetric keys; object " + c.uuid() + " is not one");
  }
  if (old.stage() == pb::STAGE_DESTROYED) {
    return InvalidState("object " + c.uuid() + " is " + std::string(merge::StateName(state)) +
                        "; a destroyed key is not rekeyed");
  }
  auto replaced = old.attributes().find("replaced_by");
  if (replaced != old.attributes().end() && !replaced->second.value().deleted()) {
    return InvalidState("key " + c.uuid() + " is already replaced by " +
                        replaced->second.value().text() + "; rekey that one");
  }
  constexpr int64_t kMaxDelaySeconds = int64_t{100} * 366 * 24 * 3600;
  if (c.deactivate_after_seconds() < 0 || c.deactivate_after_seconds() > kMaxDelaySeconds) {
    return InvalidArgument("the old key's deactivation delay is 0 to 100 years in seconds, got " +
                           std::to_string(c.deactivate_after_seconds()));
  }
  google::protobuf::Map<std::string, pb::AttributeValue> attributes;
  for (const auto& [name, attr] : old.attributes()) {
    if (!attr.value().deleted() && IsClientAttribute(name, attr.value())) {
      attributes[name] = attr.value();
    }
  }
  auto algorithm = old.attributes().find("algorithm");
  auto length = old.attributes().find("length");
  if (algorithm == old.attributes().end() || length == old.attributes().end()) {
    return InvalidState("key " + c.uuid() + " has no algorithm and length to repeat");
  }
  const int64_t bits = length->second.value().integer();
  if (bits != 128 && bits != 192 && bits != 256) {
    return InvalidState("key " + c.uuid() + " has length " + std::to_string(bits) +
                        "; rekey makes AES keys of 128, 192 or 256 bits");
  }
  attributes["algorithm"] = algorithm->second.value();
  attributes["length"] = IntValue(bits);
  attributes["replaces"] = TextValue(old.uuid());
  std::vector<std::string> wallets;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredWallet>(*kv_, keys::kWalletPrefix, [&](auto, const pb::StoredWallet& w) {
        if (w.created()) wallets.push_back(w.uuid());
        return true;
      }));
  std::vector<std::string> holding;
  for (const std::string& wallet : wallets) {
    COFFER_ASSIGN_OR_RETURN(auto member,
                            LoadMessage<pb::StoredMember>(*kv_, keys::Member(wallet, old.uuid())));
    if (member && member->present()) holding.push_back(wallet);
  }
  if (holding.size() > limits::kMaxWalletsPerRekey) {
    return ResourceExhausted("key " + c.uuid() + " is in " + std::to_string(holding.size()) +
                             " wallets; a rekey adds the new key to at most " +
                             std::to_string(limits::kMaxWalletsPerRekey));
  }
  COFFER_ASSIGN_OR_RETURN(SecretBytes material, RandomSecret(static_cast<size_t>(bits / 8)));
  COFFER_ASSIGN_OR_RETURN(pb::LogRecord record,
                          PlanObjectCreation(pb::SYMMETRIC_KEY, c.name(), std::move(attributes),
                                             /*activate=*/true, material.reveal(), "", ""));
  auto* b = record.mutable_object_created();
  b->set_replaces(old.uuid());
  for (std::string& wallet : holding) b->add_in_wallets(std::move(wallet));
  // An old key already past ACTIVE keeps its state and dates (0: unchanged).
  if (state == pb::PRE_ACTIVE || state == pb::ACTIVE) {
    b->set_replaced_deactivation_micros(clock_.WallMicros() +
                                        c.deactivate_after_seconds() * 1'000'000);
  }
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanRegister(const pb::RegisterOp& c) {
  if (c.type() == pb::OBJECT_TYPE_UNSPECIFIED || !pb::ObjectType_IsValid(c.type())) {
    return InvalidArgument("register needs an object type");
  }
  if (c.material().empty()) return InvalidArgument("register needs material");
  if (c.material().size() > kMaxMaterialBytes) {
    return ResourceExhausted("material is " + std::to_string(c.material().size()) +
                             " bytes; the limit is " + std::to_string(kMaxMaterialBytes));
  }
  COFFER_RETURN_IF_ERROR(ValidateClientAttributes(c.attributes()));
  return PlanObjectCreation(c.type(), c.name(), c.attributes(), c.activate(), c.material(),
                            c.comment(), c.wallet());
}

StatusOr<pb::LogRecord> ObjectStore::PlanSetAttributes(const pb::SetAttributesOp& c) {
  COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, LoadCreatedObject(c.uuid()));
  if (o.stage() == pb::STAGE_DESTROYED) {
    return InvalidState("object " + c.uuid() + " is " +
                        std::string(merge::StateName(merge::ToState(LifecycleOf(o)))) +
                        "; its attributes are frozen");
  }
  if (c.attributes().empty()) return InvalidArgument("no attributes given");
  COFFER_RETURN_IF_ERROR(ValidateClientAttributes(c.attributes()));
  // Only false may be set after creation: with last-writer-wins, a
  // concurrent "true" could otherwise undo another node's "false".
  auto ex = c.attributes().find("extractable");
  if (ex != c.attributes().end() && ex->second.boolean()) {
    return PermissionDenied(IsExtractable(o)
                                ? "extractable is already true; after creation it can only be "
                                  "set to false"
                                : "extractable cannot be turned back on once false");
  }
  pb::LogRecord record;
  auto* b = record.mutable_attributes_set();
  b->set_uuid(c.uuid());
  *b->mutable_attributes() = c.attributes();
  record.mutable_result()->set_uuid(c.uuid());
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanActivate(const pb::ActivateOp& c) {
  COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, LoadCreatedObject(c.uuid()));
  COFFER_ASSIGN_OR_RETURN(merge::Lifecycle to, merge::Activate(LifecycleOf(o)));
  return LifecycleRecord(o.uuid(), to, pb::REVOCATION_REASON_UNSPECIFIED, "activation_date",
                         clock_.WallMicros());
}

StatusOr<pb::LogRecord> ObjectStore::PlanRevoke(const pb::RevokeOp& c) {
  COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, LoadCreatedObject(c.uuid()));
  pb::RevocationReason reason =
      c.reason() == pb::REVOCATION_REASON_UNSPECIFIED ? pb::CESSATION_OF_OPERATION : c.reason();
  COFFER_ASSIGN_OR_RETURN(merge::Lifecycle to, merge::Revoke(LifecycleOf(o), reason));
  return LifecycleRecord(o.uuid(), to, reason,
                         reason == pb::KEY_COMPROMISE ? "compromise_date" : "deactivation_date",
                         clock_.WallMicros());
}

StatusOr<pb::LogRecord> ObjectStore::PlanDestroy(const pb::DestroyOp& c) {
  COFFER_ASSIGN_OR_RETURN(pb::StoredObject o, LoadCreatedObject(c.uuid()));
  COFFER_ASSIGN_OR_RETURN(merge::Lifecycle to, merge::Destroy(LifecycleOf(o)));
  return LifecycleRecord(o.uuid(), to, pb::REVOCATION_REASON_UNSPECIFIED, "destroy_date",
                         clock_.WallMicros());
}

}  // namespace coffer::storage
