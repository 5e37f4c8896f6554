#include "storage/merge.h"

#include <algorithm>
#include <tuple>

namespace coffer::storage::merge {

pb::Stamp MakeStamp(const HlcStamp& hlc, uint32_t origin) {
  pb::Stamp stamp;
  stamp.mutable_hlc()->set_wall_micros(hlc.wall_micros);
  stamp.mutable_hlc()->set_logical(hlc.logical);
  stamp.set_origin(origin);
  return stamp;
}

int CompareStamps(const pb::Stamp& a, const pb::Stamp& b) {
  auto key = [](const pb::Stamp& s) {
    return std::make_tuple(s.hlc().wall_micros(), s.hlc().logical(), s.origin());
  };
  if (key(a) < key(b)) return -1;
  if (key(b) < key(a)) return 1;
  return 0;
}

namespace {
template <typename Register>
void MergeLww(Register* current, const Register& incoming) {
  if (!current->has_stamp() || CompareStamps(incoming.stamp(), current->stamp()) > 0) {
    *current = incoming;
  }
}
}  // namespace

void MergeAttribute(pb::LwwAttribute* current, const pb::LwwAttribute& incoming) {
  MergeLww(current, incoming);
}
void MergeName(pb::NameRegister* current, const pb::NameRegister& incoming) {
  MergeLww(current, incoming);
}
void MergeMember(pb::StoredMember* current, const pb::StoredMember& incoming) {
  MergeLww(current, incoming);
}
void MergeGrant(pb::StoredGrant* current, const pb::StoredGrant& incoming) {
  MergeLww(current, incoming);
}

Lifecycle Join(const Lifecycle& a, const Lifecycle& b) {
  return {std::max(a.stage, b.stage), a.compromised || b.compromised};
}

pb::State ToState(const Lifecycle& lifecycle) {
  switch (lifecycle.stage) {
    case pb::STAGE_DESTROYED:
      return lifecycle.compromised ? pb::DESTROYED_COMPROMISED : pb::DESTROYED;
    case pb::STAGE_PRE_ACTIVE:
    case pb::STAGE_ACTIVE:
    case pb::STAGE_DEACTIVATED:
    default:
      if (lifecycle.compromised) return pb::COMPROMISED;
      if (lifecycle.stage == pb::STAGE_PRE_ACTIVE) return pb::PRE_ACTIVE;
      if (lifecycle.stage == pb::STAGE_ACTIVE) return pb::ACTIVE;
      return pb::DEACTIVATED;
  }
}

std::string_view StateName(pb::State state) {
  switch (state) {
    case pb::PRE_ACTIVE:
      return "PRE_ACTIVE";
    case pb::ACTIVE:
      return "ACTIVE";
    case pb::DEACTIVATED:
      return "DEACTIVATED";
    case pb::COMPROMISED:
      return "COMPROMISED";
    case pb::DESTROYED:
      return "DESTROYED";
    case pb::DESTROYED_COMPROMISED:
      return "DESTROYED_COMPROMISED";
    default:
      return "UNSPECIFIED";
  }
}

pb::RevocationReason JoinReason(pb::RevocationReason a, pb::RevocationReason b) {
  return std::max(a, b);
}

namespace {
Status Refuse(std::string_view op, const Lifecycle& current, std::string_view needed) {
  return InvalidState(std::string(op) + " is not allowed in state " +
                      std::string(StateName(ToState(current))) + "; it needs state " +
                      std::string(needed));
}
}  // namespace

StatusOr<Lifecycle> Activate(const Lifecycle& current) {
  if (ToState(current) != pb::PRE_ACTIVE) return Refuse("activate", current, "PRE_ACTIVE");
  return Lifecycle{pb::STAGE_ACTIVE, false};
}

StatusOr<Lifecycle> Revoke(const Lifecycle& current, pb::RevocationReason reason) {
  pb::State state = ToState(current);
  if (reason == pb::KEY_COMPROMISE) {
    // KMIP also allows DESTROYED -> DESTROYED_COMPROMISED.
    if (!current.compromised) return Lifecycle{current.stage, true};
    return Refuse("revoke (key compromise)", current, "a state that is not compromised");
  }
  if (state != pb::ACTIVE) return Refuse("revoke", current, "ACTIVE");
  return Lifecycle{pb::STAGE_DEACTIVATED, false};
}

StatusOr<Lifecycle> Destroy(const Lifecycle& current) {
  pb::State state = ToState(current);
  if (state == pb::PRE_ACTIVE || state == pb::DEACTIVATED || state == pb::COMPROMISED) {
    return Lifecycle{pb::STAGE_DESTROYED, current.compromised};
  }
  return Refuse("destroy", current, "PRE_ACTIVE, DEACTIVATED or COMPROMISED (revoke it first)");
}

bool ClaimPrecedes(const NameClaim& a, const NameClaim& b) {
  int c = CompareStamps(a.created, b.created);
  if (c != 0) return c < 0;
  return a.uuid < b.uuid;
}

std::string GeneratedName(std::string_view supplied, std::string_view uuid) {
  return std::string(supplied) + "~" + std::string(uuid);
}

Status ValidateSuppliedName(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > 256) {
    return InvalidArgument(std::string(what) + " name must be 1 to 256 bytes long");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument(std::string(what) + " name contains a control character");
    }
    if (c == '~') {
      return InvalidArgument(std::string(what) +
                             " name may not contain '~' (reserved for generated names)");
    }
  }
  return Status::Ok();
}

}  // namespace coffer::storage::merge
