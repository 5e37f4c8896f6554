// Origin authentication of received records (replication/README.md, "Records
// authenticated by their origin"): Replicator::AdmitRecords decides, before
// the core sees a batch, which of its records may go on.
#include <utility>

#include "common/fault_point.h"
#include "replication/replicator.h"

namespace coffer::replication {

std::string IntegrityAlert::ToString() const {
  return "record " + std::to_string(origin) + ":" + std::to_string(seq) + " from node " +
         std::to_string(from) + " refused: " + reason;
}

namespace {

// Whether two copies of one record (origin, seq) say the same: everything the
// origin signed, and the material when both still hold it (a destroy erases it
// from a log copy).
bool SameRecord(const pb::LogRecord& a, const pb::LogRecord& b) {
  if (a.signature() != b.signature() || a.erased_signature() != b.erased_signature() ||
      storage::SignedForm(a, true) != storage::SignedForm(b, true)) {
    return false;
  }
  if (!a.has_object_created()) return true;
  const std::string& ma = a.object_created().material();
  const std::string& mb = b.object_created().material();
  return ma.empty() || mb.empty() || ma == mb;
}

}  // namespace

const std::string& Replicator::OriginKey(uint32_t origin, bool* reloaded) {
  static const std::string kNone;
  auto it = origin_keys_.find(origin);
  if (it != origin_keys_.end()) return it->second;
  if (*reloaded) return kNone;
  // Read the membership once per batch at most: a key is cached until the
  // membership changes (SetMembers), a missing one is looked for again.
  *reloaded = true;
  auto members = store_.Members();
  if (!members.ok()) return kNone;
  for (const auto& m : *members) {
    if (!m.public_key().empty()) origin_keys_[m.node_id()] = m.public_key();
  }
  it = origin_keys_.find(origin);
  return it == origin_keys_.end() ? kNone : it->second;
}

void Replicator::Alert(IntegrityAlert alert) {
  ++integrity_alerts_;
  last_alert_ = alert;
  if (alert_observer_) alert_observer_(alert);
}

std::vector<bool> Replicator::AdmitRecords(uint32_t from, const pb::RecordBatch& batch) {
  std::vector<bool> admitted(static_cast<size_t>(batch.records_size()), true);
  // A planted bug for the simulation: records go to the core unchecked.
  if (COFFER_FAULT_POINT("replication.skip_origin_check")) return admitted;
  storage::VersionVector applied = store_.Applied();
  bool reloaded = false;
  for (int i = 0; i < batch.records_size(); ++i) {
    const pb::LogRecord& r = batch.records(i);
    auto refuse = [&](std::string reason) {
      admitted[static_cast<size_t>(i)] = false;
      Alert(IntegrityAlert{r.origin(), r.seq(), from, std::move(reason)});
    };
    auto have = applied.find(r.origin());
    if (have != applied.end() && r.seq() <= have->second && r.seq() > 0) {
      // A seq applied here: the incoming copy must be the record applied.
      auto logged = store_.ReadLog(r.origin(), r.seq(), 1);
      if (logged.ok() && !logged->empty() && logged->front().seq() == r.seq()) {
        if (!SameRecord(r, logged->front())) {
          refuse("differs from the record applied at this seq");
        }
        continue;
      }
      // Collected from the log here: it can only be checked for its origin.
    }
    const std::string& key = OriginKey(r.origin(), &reloaded);
    if (key.empty()) {
      // The origin's NodeAdded has not reached this node (or it is no
      // member): dropped unverified, offered again later.
      admitted[static_cast<size_t>(i)] = false;
      ++unverified_records_;
      continue;
    }
    if (!storage::IsAuthentic(r, key, *verifier_)) {
      refuse(r.signature().empty() ? "not signed by its origin"
                                   : "signature does not verify with the origin's key");
    }
  }
  return admitted;
}

}  // namespace coffer::replication
