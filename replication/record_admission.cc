// Origin authentication of received records (replication/README.md, "Records
// authenticated by their origin"): Replicator::AdmitRecords asks the chain
// admission (chain_admission.h), before the core sees a batch, which records
// may go on, and raises its refusals as integrity alerts.
#include <utility>

#include "common/fault_point.h"
#include "replication/replicator.h"

namespace coffer::replication {

std::string IntegrityAlert::ToString() const {
  return "record " + std::to_string(origin) + ":" + std::to_string(seq) +
         (from == 0 ? std::string() : " from node " + std::to_string(from)) + " refused: " + reason;
}

const std::string& Replicator::OriginKey(uint32_t origin, bool* reloaded) {
  static const std::string kNone;
  auto it = origin_keys_.find(origin);
  if (it != origin_keys_.end()) return it->second;
  if (*reloaded) return kNone;
  // Read the node rows once per batch at most: a key is cached until the
  // membership changes (SetMembers), a missing one is looked for again. A
  // deleted node's key stays: the records it signed before its deletion that
  // other nodes hold must reach this node too, or it never converges.
  *reloaded = true;
  auto keys = store_.OriginKeys();
  if (!keys.ok()) return kNone;
  for (auto& [node, key] : *keys) origin_keys_[node] = std::move(key);
  it = origin_keys_.find(origin);
  return it == origin_keys_.end() ? kNone : it->second;
}

void Replicator::Alert(IntegrityAlert alert) {
  ++integrity_alerts_;
  last_alert_ = alert;
  if (alert_observer_) alert_observer_(alert);
}

pb::ReplicationMessage Replicator::AdmitRecords(uint32_t from, const pb::RecordBatch& batch) {
  pb::ReplicationMessage checked;
  // A planted bug for the simulation: records go to the core unchecked.
  if (COFFER_FAULT_POINT("replication.skip_origin_check")) {
    *checked.mutable_records() = batch;
    return checked;
  }
  bool reloaded = false;
  ChainAdmission::Result result = admission_.Admit(
      from, batch, *verifier_,
      [&](uint32_t origin) -> const std::string& { return OriginKey(origin, &reloaded); });
  unverified_records_ += result.unverified;
  withheld_material_records_ += result.withheld;
  for (auto& refusal : result.refused) {
    Alert(IntegrityAlert{refusal.origin, refusal.seq, from, std::move(refusal.reason)});
  }
  auto* records = checked.mutable_records();
  for (auto& r : result.admitted) *records->add_records() = std::move(r);
  return checked;
}

}  // namespace coffer::replication
