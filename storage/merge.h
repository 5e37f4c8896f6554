// Conflict rules (semantics.md section 4) as pure functions. Each merge is
// commutative, associative and idempotent, so replicas that applied the same
// set of records, in any order, hold the same state. merge_test.cc checks
// every pair of concurrent operations in both orders.
#pragma once

#include <string>
#include <string_view>

#include "common/hlc.h"
#include "common/status.h"
#include "proto/records.pb.h"

namespace coffer::storage::merge {

// ---- Stamps: the total order (hlc wall, hlc logical, origin). ----

pb::Stamp MakeStamp(const HlcStamp& hlc, uint32_t origin);
// <0, 0, >0 like strcmp.
int CompareStamps(const pb::Stamp& a, const pb::Stamp& b);

// ---- 4.1 Attributes: last writer wins per attribute. ----

// Merges `incoming` into `current` (which may be default/empty): the greater
// stamp wins; an equal stamp keeps `current` (equal stamps come from the same
// record, so the values are equal).
void MergeAttribute(pb::LwwAttribute* current, const pb::LwwAttribute& incoming);
void MergeName(pb::NameRegister* current, const pb::NameRegister& incoming);
void MergeMember(pb::StoredMember* current, const pb::StoredMember& incoming);
void MergeGrant(pb::StoredGrant* current, const pb::StoredGrant& incoming);

// ---- 4.2 Lifecycle: join of stage (max) and compromised flag (OR). ----

struct Lifecycle {
  pb::LifecycleStage stage = pb::STAGE_PRE_ACTIVE;
  bool compromised = false;
  bool operator==(const Lifecycle&) const = default;
};

Lifecycle Join(const Lifecycle& a, const Lifecycle& b);
// The KMIP state a client sees.
pb::State ToState(const Lifecycle& lifecycle);
std::string_view StateName(pb::State state);
// Revocation reasons merge by maximum, so the result is order-independent.
pb::RevocationReason JoinReason(pb::RevocationReason a, pb::RevocationReason b);

// Client transitions, validated against the local state (KMIP rules). Each
// returns the lifecycle to raise to, or INVALID_STATE naming the current state
// and the state the operation needs.
StatusOr<Lifecycle> Activate(const Lifecycle& current);
StatusOr<Lifecycle> Revoke(const Lifecycle& current, pb::RevocationReason reason);
StatusOr<Lifecycle> Destroy(const Lifecycle& current);

// ---- 4.3 Unique names. ----

// A live entity's claim to its supplied name. Among claims to one name the
// smallest (creation stamp, uuid) keeps it. (The stamp already orders by origin.)
struct NameClaim {
  pb::Stamp created;
  std::string uuid;
};
bool ClaimPrecedes(const NameClaim& a, const NameClaim& b);

// The name a losing claimant gets: "<supplied>~<uuid>". Client-supplied names
// may not contain '~', so a generated name never collides with a supplied one.
std::string GeneratedName(std::string_view supplied, std::string_view uuid);
// INVALID_ARGUMENT unless 1..256 bytes, printable ASCII or UTF-8, without '~'
// and control characters.
Status ValidateSuppliedName(std::string_view name, std::string_view what);

}  // namespace coffer::storage::merge
