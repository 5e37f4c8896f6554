// Planning the object ops: create-key, register, set-attributes and the KMIP
// lifecycle steps (activate, revoke, destroy).
#include <string>

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
    const std::string& material, const std::string& comment) {
  if (comment.size() > kMaxDescriptionBytes) {
    return InvalidArgument("a comment is at most " + std::to_string(kMaxDescriptionBytes) +
                           " bytes");
  }
  if (!name.empty()) COFFER_RETURN_IF_ERROR(CheckFreeName(pb::ENTITY_OBJECT, name, "object"));
  if (!attributes.count("extractable")) attributes["extractable"] = BoolValue(true);
  if (activate) attributes["activation_date"] = IntValue(clock_.WallMicros());
  pb::LogRecord record;
  auto* b = record.mutable_object_created();
  b->set_uuid(Uuid::Generate(rng_).str());
  b->set_type(type);
  b->set_name(name);
  *b->mutable_attributes() = std::move(attributes);
  b->set_stage(activate ? pb::STAGE_ACTIVE : pb::STAGE_PRE_ACTIVE);
  b->set_material(material);
  b->set_material_length(static_cast<uint32_t>(material.size()));
  b->set_comment(comment);  // a comment makes the record format 4 (RecordFormatOf)
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
                            material.reveal(), c.comment());
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
                            c.comment());
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
