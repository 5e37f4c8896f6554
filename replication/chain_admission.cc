#include "replication/chain_admission.h"

#include <utility>

#include "common/limits.h"

namespace coffer::replication {

namespace {

// Whether two copies of one record (origin, seq) say the same: everything
// the origin signed, and the material when both still hold it (a destroy
// erases it from a log copy; the digest covers it either way). Not the
// signature: a record is its signed form; a copy whose signature a relay
// stripped is the same record (only runs need a signature, at their end).
bool SameRecord(const pb::LogRecord& a, pb::LogRecord* b) {
  if (storage::SignedForm(a) != storage::SignedFormInPlace(b)) return false;
  if (!a.has_object_created()) return true;
  const std::string& ma = a.object_created().material();
  const std::string& mb = b->object_created().material();
  return ma.empty() || mb.empty() || ma == mb;
}

}  // namespace

void ChainAdmission::RecountUnsigned(Run& run) {
  run.unsigned_records = run.unsigned_bytes = 0;
  for (auto it = run.records.rbegin(); it != run.records.rend(); ++it) {
    if (!it->record.signature().empty()) break;
    ++run.unsigned_records;
    run.unsigned_bytes += it->record.ByteSizeLong();
  }
}

size_t ChainAdmission::held_records() const {
  size_t n = 0;
  for (const auto& [origin, state] : origins_) {
    for (const auto& [from, run] : state.runs) n += run.records.size();
  }
  return n;
}

bool ChainAdmission::SameAsApplied(const pb::LogRecord& r) const {
  auto logged = store_.ReadLog(r.origin(), r.seq(), 1);
  if (!logged.ok() || logged->empty() || logged->front().seq() != r.seq()) {
    return true;  // collected here: nothing to compare with (and not needed)
  }
  return SameRecord(r, &logged->front());
}

ChainAdmission::Result ChainAdmission::Admit(uint32_t from, const pb::RecordBatch& batch,
                                             storage::SignatureVerifier& verifier,
                                             const KeyLookup& key_of) {
  Result result;
  const storage::VersionVector applied = store_.Applied();
  std::map<uint32_t, uint64_t> last_in_batch;  // origin -> seq of its previous record here
  std::map<uint32_t, uint64_t> last_signed;    // origin -> seq of its last signed record here
  for (const pb::LogRecord& r : batch.records()) {
    if (!r.signature().empty()) last_signed[r.origin()] = r.seq();
  }
  for (const pb::LogRecord& r : batch.records()) {
    auto refuse = [&](std::string reason) {
      result.refused.push_back(Refusal{r.origin(), r.seq(), std::move(reason)});
    };
    if (r.origin() == 0 || r.seq() == 0) {
      refuse("record without origin or seq");
      continue;
    }
    auto previous = last_in_batch.find(r.origin());
    if (previous != last_in_batch.end() && r.seq() != previous->second + 1) {
      refuse("not in seq order within its batch (after " + std::to_string(previous->second) + ")");
      continue;
    }
    last_in_batch[r.origin()] = r.seq();
    auto have = applied.find(r.origin());
    const uint64_t applied_seq = have == applied.end() ? 0 : have->second;
    if (r.seq() <= applied_seq) {
      // Applied here: the incoming copy must be the record applied. Not
      // passed on (the core would drop it as a duplicate).
      if (!SameAsApplied(r)) refuse("differs from the record applied at this seq");
      continue;
    }
    if (r.origin() == store_.node_id().value) continue;  // ours: never lost and sent back
    const bool check_later = !r.signature().empty() && r.seq() < last_signed[r.origin()];
    AdmitOne(from, r, check_later, origins_[r.origin()], applied_seq, verifier, key_of, result);
  }
  return result;
}

bool ChainAdmission::KeepSignaturesWithinRunBound(Run& run, std::string_view key,
                                                  storage::SignatureVerifier& verifier) {
  // Greedy, front to back: a signature goes unless the stretch from the last
  // kept one through the next signed record would then exceed the bound.
  const size_t last = run.records.size() - 1;  // signed, verified: kept
  size_t records = 0, bytes = 0;               // since the last kept signature
  for (size_t i = 0; i < last; ++i) {
    pb::LogRecord& r = run.records[i].record;
    ++records;
    bytes += r.ByteSizeLong();
    if (r.signature().empty()) continue;
    size_t through_next = records, bytes_through_next = bytes;
    for (size_t j = i + 1; j <= last; ++j) {
      ++through_next;
      bytes_through_next += run.records[j].record.ByteSizeLong();
      if (!run.records[j].record.signature().empty()) break;
    }
    if (through_next <= limits::kMaxUnvouchedRecords &&
        bytes_through_next <= limits::kChainSignEveryBytes) {
      r.clear_signature();
      continue;
    }
    if (!storage::SignatureVerifies(r, key, verifier)) return false;
    records = bytes = 0;
  }
  return true;
}

void ChainAdmission::AdmitOne(uint32_t from, const pb::LogRecord& r, bool check_later,
                              OriginState& state, uint64_t applied_seq,
                              storage::SignatureVerifier& verifier, const KeyLookup& key_of,
                              Result& result) {
  auto refuse = [&](std::string reason) {
    result.refused.push_back(Refusal{r.origin(), r.seq(), std::move(reason)});
  };
  // The chain tip: the last admitted record, or the store's head.
  state.admitted.erase(state.admitted.begin(), state.admitted.upper_bound(applied_seq));
  uint64_t tip_seq = applied_seq;
  std::string tip_digest = store_.ChainHead(r.origin());
  if (!state.admitted.empty()) {
    tip_seq = state.admitted.rbegin()->first;
    tip_digest = state.admitted.rbegin()->second;
  }
  if (r.format() > store_.max_record_format()) {
    // Never skipped: the origin's stream stops here, with an alert, until
    // this node runs a binary that reads it.
    refuse("record format " + std::to_string(r.format()) + " is newer than this binary reads (" +
           std::to_string(store_.max_record_format()) + "): upgrade this node");
    return;
  }
  if (r.seq() <= tip_seq) {
    // Admitted before, not applied yet (its apply failed, or the core
    // dropped it): the same record goes on again, any other is a forgery.
    if (storage::ChainDigest(r) != state.admitted.at(r.seq()) || !storage::MaterialMatches(r)) {
      refuse("differs from the record admitted at this seq");
    } else {
      result.admitted.push_back(r);
    }
    return;
  }
  const std::string& key = key_of(r.origin());
  if (key.empty()) {
    // The origin's NodeAdded has not reached this node (or it is no member):
    // dropped unverified, offered again later.
    ++result.unverified;
    state.runs.erase(from);
    return;
  }
  if (!storage::MaterialMatches(r)) {
    refuse("its material does not match its material digest");
    return;
  }
  if (r.has_object_created() && r.object_created().material().empty() &&
      !r.object_created().material_digest().empty()) {
    // Without its material: legitimate after a destroy this node has not
    // applied yet (every copy may have lost the material by then), or a relay
    // withholding it. Counted, not held: holding it could wait forever (two
    // origins each destroying the other's object, behind it in its chain).
    auto destroyed = store_.ObjectDestroyed(r.object_created().uuid());
    if (!destroyed.ok() || !*destroyed) ++result.withheld;
  }

  Run& run = state.runs[from];
  // Records another sender's run got admitted meanwhile are no longer needed.
  while (!run.records.empty() && run.records.front().record.seq() <= tip_seq) {
    run.bytes -= run.records.front().record.ByteSizeLong();
    run.records.pop_front();
  }
  if (run.records.size() < run.unsigned_records) RecountUnsigned(run);
  if (!run.records.empty() && (run.records.front().record.seq() != tip_seq + 1 ||
                               run.records.front().record.prev_digest() != tip_digest)) {
    run = Run{};  // does not continue the admitted chain: it was not the origin's
  }
  Held incoming{r, {}};
  incoming.digest = storage::ChainDigestInPlace(&incoming.record);
  const uint64_t next_seq = run.records.empty() ? tip_seq + 1 : run.records.back().record.seq() + 1;
  if (r.seq() < next_seq) {
    // The sender sends this run again (a retransmission): it restarts here.
    // An honest sender never sends two records at one seq: alerted, and the
    // new one taken in place of the old (the signature decides which holds).
    const Held& before = run.records[r.seq() - run.records.front().record.seq()];
    if (before.digest != incoming.digest) {
      refuse("differs from the record the same node sent before at this seq");
    }
    while (!run.records.empty() && run.records.back().record.seq() >= r.seq()) {
      run.bytes -= run.records.back().record.ByteSizeLong();
      run.records.pop_back();
    }
    RecountUnsigned(run);
  } else if (r.seq() > next_seq) {
    return;  // a gap (a lost batch): the sender sends the missing ones again
  }
  const std::string& expected_prev = run.records.empty() ? tip_digest : run.records.back().digest;
  if (r.prev_digest() != expected_prev) {
    refuse("does not chain to its origin's previous record");
    run = Run{};
    return;
  }
  const size_t size = r.ByteSizeLong();
  if (run.unsigned_records >= limits::kMaxUnvouchedRecords ||
      run.unsigned_bytes + size > limits::kMaxUnvouchedBytes) {
    refuse("more records than an origin makes without signing (" +
           std::to_string(run.unsigned_records) + " held)");
    run = Run{};
    return;
  }
  run.records.push_back(std::move(incoming));
  run.bytes += size;
  if (r.signature().empty()) {
    ++run.unsigned_records;
    run.unsigned_bytes += size;
    return;  // waits for the signed record
  }
  run.unsigned_records = run.unsigned_bytes = 0;
  if (check_later) return;  // the batch's last signed record of this origin decides
  if (!storage::SignatureVerifies(r, key, verifier)) {
    refuse("signature does not verify with the origin's key");
    run = Run{};
    return;
  }
  if (!KeepSignaturesWithinRunBound(run, key, verifier)) {
    refuse("an earlier signature in its run does not verify with the origin's key");
    run = Run{};
    return;
  }
  // Vouched: the run is the origin's, in order.
  for (Held& held : run.records) {
    state.admitted[held.record.seq()] = std::move(held.digest);
    result.admitted.push_back(std::move(held.record));
  }
  run = Run{};
}

}  // namespace coffer::replication
