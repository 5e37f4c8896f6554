// Planning: Plan() dispatches a client's op to its PlanX function, which
// validates it against local state and returns the record that carries it
// (body and result; Execute stamps origin, seq and HLC). Also the checks the
// PlanX functions share.
#include <string>

#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {

StatusOr<pb::LogRecord> ObjectStore::Plan(const pb::Op& op) {
  switch (op.op_case()) {
    case pb::Op::kCreateKey:
      return PlanCreateKey(op.create_key());
    case pb::Op::kRegisterObject:
      return PlanRegister(op.register_object());
    case pb::Op::kSetAttributes:
      return PlanSetAttributes(op.set_attributes());
    case pb::Op::kActivate:
      return PlanActivate(op.activate());
    case pb::Op::kRevoke:
      return PlanRevoke(op.revoke());
    case pb::Op::kDestroy:
      return PlanDestroy(op.destroy());
    case pb::Op::kWalletCreate:
      return PlanWalletCreate(op.wallet_create());
    case pb::Op::kWalletMember:
      return PlanWalletMember(op.wallet_member());
    case pb::Op::kWalletTransfer:
      return PlanWalletTransfer(op.wallet_transfer());
    case pb::Op::kEndpointCreate:
      return PlanEndpointCreate(op.endpoint_create());
    case pb::Op::kEndpointGrant:
      return PlanEndpointGrant(op.endpoint_grant());
    case pb::Op::kEndpointBind:
      return PlanEndpointBind(op.endpoint_bind());
    case pb::Op::kRename:
      return PlanRename(op.rename());
    case pb::Op::kClusterInit:
      return PlanClusterInit(op.cluster_init());
    case pb::Op::kNodeAdd:
      return PlanNodeAdd(op.node_add());
    case pb::Op::kNodeState:
      return PlanNodeState(op.node_state());
    case pb::Op::kNodeDelete:
      return PlanNodeDelete(op.node_delete());
    case pb::Op::kClusterSet:
      return PlanClusterSet(op.cluster_set());
    case pb::Op::kNodeVersion:
      return PlanNodeVersion(op.node_version());
    case pb::Op::kClusterVersion:
      return PlanClusterVersion(op.cluster_version());
    case pb::Op::kUpgradePlan:
      return PlanUpgradePlan(op.upgrade_plan());
    case pb::Op::kRekey:
      return PlanRekey(op.rekey());
    default:
      return InvalidArgument("request has no operation");
  }
}

std::string ObjectStore::NewEntityUuid() {
  return Uuid::GenerateTimeOrdered(clock_.WallMicros(), rng_).str();
}

StatusOr<pb::StoredObject> ObjectStore::LoadCreatedObject(const std::string& uuid) const {
  if (!Uuid::IsValid(uuid)) return InvalidArgument("'" + uuid + "' is not a uuid");
  COFFER_ASSIGN_OR_RETURN(auto o, ReadObject(*kv_, uuid));
  if (!o || !o->created()) return NotFound("no object " + uuid);
  return *o;
}

Status ObjectStore::CheckFreeName(pb::EntityKind kind, const std::string& name,
                                  std::string_view what) const {
  COFFER_RETURN_IF_ERROR(merge::ValidateSuppliedName(name, what));
  COFFER_ASSIGN_OR_RETURN(auto holder, ResolveName(kind, name));
  if (holder) {
    return AlreadyExists(std::string(what) + " name '" + name + "' is taken by " + *holder);
  }
  return Status::Ok();
}

}  // namespace coffer::storage
