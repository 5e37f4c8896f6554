// Applying the records about objects, wallets and endpoints: creations
// (which fill in a shadow row if later changes came first), attributes, the
// lifecycle join and renames. Index entries move with each row
// (Txn::PutEntity).
#include <algorithm>
#include <string>

#include "storage/keys.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {
namespace {

// Wallets and endpoints share their shape: created flag, stamp, name register.
template <typename Entity, typename Body>
void FillNamedEntity(Entity* e, const Body& b, const pb::Stamp& stamp) {
  e->set_uuid(b.uuid());
  e->set_created(true);
  *e->mutable_created_stamp() = stamp;
  pb::NameRegister name;
  name.set_name(b.name());
  *name.mutable_stamp() = stamp;
  merge::MergeName(e->mutable_name(), name);
  e->set_description(b.description());
}

void MergeAttributes(pb::StoredObject* o,
                     const google::protobuf::Map<std::string, pb::AttributeValue>& attributes,
                     const pb::Stamp& stamp) {
  for (const auto& [attr_name, value] : attributes) {
    pb::LwwAttribute incoming;
    *incoming.mutable_value() = value;
    *incoming.mutable_stamp() = stamp;
    merge::MergeAttribute(&(*o->mutable_attributes())[attr_name], incoming);
  }
}

}  // namespace

Status ObjectStore::ApplyObjectCreated(Txn& txn, const pb::LogRecord& r, const pb::Stamp& stamp) {
  const auto& b = r.object_created();
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad object uuid");
  std::string key = keys::Object(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredObject>(txn.reader(), key));
  if (old && old->created()) return Status::Ok();  // uuids are unique; a second create is void
  pb::StoredObject o = old.value_or(pb::StoredObject());
  o.set_uuid(b.uuid());
  o.set_created(true);
  o.set_type(b.type());
  *o.mutable_created_stamp() = stamp;
  pb::NameRegister name;
  name.set_name(b.name());
  *name.mutable_stamp() = stamp;
  merge::MergeName(o.mutable_name(), name);
  MergeAttributes(&o, b.attributes(), stamp);
  o.set_stage(std::max(o.stage(), b.stage()));
  o.set_material_length(b.material_length());
  o.set_comment(b.comment());
  o.set_create_origin(r.origin());
  o.set_create_seq(r.seq());
  if (o.stage() != pb::STAGE_DESTROYED && !b.material().empty()) {
    COFFER_ASSIGN_OR_RETURN(std::string sealed, sealer_->Seal(b.material(), ObjectAad(b.uuid())));
    o.set_sealed_material(std::move(sealed));
  }
  txn.PutEntity(key, old, o);
  ++txn.object_count;
  for (const std::string& wallet : b.in_wallets()) {
    if (!Uuid::IsValid(wallet)) return InvalidArgument("record with a bad wallet uuid");
    pb::StoredMember incoming;  // as a MemberSet with this record's stamp
    incoming.set_present(true);
    *incoming.mutable_stamp() = stamp;
    const std::string member_key = keys::Member(wallet, b.uuid());
    COFFER_ASSIGN_OR_RETURN(auto had, LoadMessage<pb::StoredMember>(txn.reader(), member_key));
    pb::StoredMember member = had.value_or(pb::StoredMember());
    merge::MergeMember(&member, incoming);
    txn.PutEntity(member_key, had, member);
  }
  if (!b.replaces().empty()) COFFER_RETURN_IF_ERROR(ApplyReplacement(txn, b, stamp));
  return Status::Ok();
}

Status ObjectStore::ApplyReplacement(Txn& txn, const pb::ObjectCreated& b, const pb::Stamp& stamp) {
  if (!Uuid::IsValid(b.replaces())) return InvalidArgument("rekey record with a bad replaced uuid");
  pb::AttributesSet links;
  links.set_uuid(b.replaces());
  (*links.mutable_attributes())["replaced_by"] = TextValue(b.uuid());
  const int64_t deactivation = b.replaced_deactivation_micros();
  if (deactivation > 0) (*links.mutable_attributes())["deactivation_date"] = IntValue(deactivation);
  COFFER_RETURN_IF_ERROR(ApplyAttributesSet(txn, links, stamp));
  if (deactivation > 0 && deactivation <= stamp.hlc().wall_micros()) {
    pb::LifecycleRaised deactivated;  // at once: the stored state moves too
    deactivated.set_uuid(b.replaces());
    deactivated.set_stage(pb::STAGE_DEACTIVATED);
    COFFER_RETURN_IF_ERROR(ApplyLifecycle(txn, deactivated));
  }
  return Status::Ok();
}

Status ObjectStore::ApplyAttributesSet(Txn& txn, const pb::AttributesSet& b,
                                       const pb::Stamp& stamp) {
  if (b.attributes().empty()) return Status::Ok();
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad object uuid");
  std::string key = keys::Object(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredObject>(txn.reader(), key));
  pb::StoredObject o = old.value_or(pb::StoredObject());
  o.set_uuid(b.uuid());
  MergeAttributes(&o, b.attributes(), stamp);
  txn.PutEntity(key, old, o);
  return Status::Ok();
}

Status ObjectStore::ApplyLifecycle(Txn& txn, const pb::LifecycleRaised& b) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad object uuid");
  std::string key = keys::Object(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredObject>(txn.reader(), key));
  pb::StoredObject o = old.value_or(pb::StoredObject());
  o.set_uuid(b.uuid());
  merge::Lifecycle joined = merge::Join(LifecycleOf(o), {b.stage(), b.compromised()});
  o.set_stage(joined.stage);
  o.set_compromised(joined.compromised);
  o.set_revocation_reason(merge::JoinReason(o.revocation_reason(), b.reason()));
  bool newly_destroyed =
      o.stage() == pb::STAGE_DESTROYED && (!old || old->stage() != pb::STAGE_DESTROYED);
  if (newly_destroyed) {
    o.clear_sealed_material();
    // Erase the material from this node's copy of the creation record too.
    // The rest stays as its origin signed it, so the record still verifies
    // (its erased signature) when relayed; a node that receives it gets the
    // destroy too and converges.
    if (o.create_seq() > 0) {
      std::string log_key = keys::Log(o.create_origin(), o.create_seq());
      COFFER_ASSIGN_OR_RETURN(auto created, LoadMessage<pb::LogRecord>(txn.reader(), log_key));
      if (created && created->has_object_created()) {
        created->mutable_object_created()->clear_sealed_material();
        txn.Put(log_key, created->SerializeAsString());
      }
    }
  }
  txn.PutEntity(key, old, o);
  return Status::Ok();
}

Status ObjectStore::ApplyWalletCreated(Txn& txn, const pb::WalletCreated& b, const pb::Stamp& stamp,
                                       uint64_t seq) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad wallet uuid");
  std::string key = keys::Wallet(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredWallet>(txn.reader(), key));
  if (old && old->created()) return Status::Ok();
  pb::StoredWallet w = old.value_or(pb::StoredWallet());
  FillNamedEntity(&w, b, stamp);
  w.set_confirmed(options_.confirm_names_on_apply);
  w.set_create_origin(stamp.origin());
  w.set_create_seq(seq);
  txn.PutEntity(key, old, w);
  return Status::Ok();
}

Status ObjectStore::ApplyEndpointCreated(Txn& txn, const pb::EndpointCreated& b,
                                         const pb::Stamp& stamp) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad endpoint uuid");
  std::string key = keys::Endpoint(b.uuid());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredEndpoint>(txn.reader(), key));
  if (old && old->created()) return Status::Ok();
  pb::StoredEndpoint e = old.value_or(pb::StoredEndpoint());
  FillNamedEntity(&e, b, stamp);
  e.set_certificate_subject(b.certificate_subject());
  txn.PutEntity(key, old, e);
  return Status::Ok();
}

Status ObjectStore::ApplyEndpointBound(Txn& txn, const pb::EndpointBound& b,
                                       const pb::Stamp& stamp) {
  if (!Uuid::IsValid(b.endpoint())) return InvalidArgument("record with a bad endpoint uuid");
  std::string key = keys::Endpoint(b.endpoint());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredEndpoint>(txn.reader(), key));
  // A binding may arrive before its endpoint's creation (another origin):
  // it waits in a placeholder row that the creation fills in.
  pb::StoredEndpoint e = old.value_or(pb::StoredEndpoint());
  e.set_uuid(b.endpoint());
  if (e.has_bound_stamp() && merge::CompareStamps(stamp, e.bound_stamp()) <= 0) {
    return Status::Ok();  // an older binding than the one held: last writer wins
  }
  e.set_public_key_sha256(b.public_key_sha256());
  *e.mutable_bound_stamp() = stamp;
  txn.PutEntity(key, old, e);
  return Status::Ok();
}

Status ObjectStore::ApplyRenamed(Txn& txn, const pb::Renamed& b, const pb::Stamp& stamp) {
  if (!Uuid::IsValid(b.uuid())) return InvalidArgument("record with a bad uuid");
  pb::NameRegister incoming;
  incoming.set_name(b.name());
  *incoming.mutable_stamp() = stamp;
  auto rename = [&](auto entity_tag, const std::string& key) -> Status {
    using Entity = decltype(entity_tag);
    COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<Entity>(txn.reader(), key));
    Entity e = old.value_or(Entity());
    e.set_uuid(b.uuid());
    merge::MergeName(e.mutable_name(), incoming);
    txn.PutEntity(key, old, e);
    return Status::Ok();
  };
  switch (b.kind()) {
    case pb::ENTITY_OBJECT:
      return rename(pb::StoredObject(), keys::Object(b.uuid()));
    case pb::ENTITY_WALLET:
      return rename(pb::StoredWallet(), keys::Wallet(b.uuid()));
    case pb::ENTITY_ENDPOINT:
      return rename(pb::StoredEndpoint(), keys::Endpoint(b.uuid()));
    default:
      return InvalidArgument("rename of an unknown entity kind");
  }
}

}  // namespace coffer::storage
