// ChainAdmission: which received records may reach the replication core
// (replication/README.md, "Records authenticated by their origin").
//
// An origin's records form a hash chain (storage/record_auth.h: prev_digest)
// and only some carry the origin's signature. Per origin, this node admits
// records strictly in chain order from its chain head (the store's applied
// seq and ChainHead, then the records admitted since):
// - A record that extends the chain but is not signed waits, held per origin
//   and sending node (at most limits::kMaxUnvouchedRecords /
//   kMaxUnvouchedBytes), until a signed record of the same sender chains to
//   it and its signature verifies with the origin's key: then the whole run
//   is admitted, in order. A sender's run never mixes with another's, so a
//   Byzantine relay cannot block an honest one.
// - Refused, as an integrity alert: a record that does not chain (its
//   prev_digest is not the digest of the record before it: a forged record in
//   the middle, a reordered pair renumbered), a signature that does not
//   verify, a run longer than the bound (no honest origin makes one), records
//   of one origin out of seq order within one batch (senders send contiguous
//   ranges), material that does not match its digest, and a record at a seq
//   already applied or admitted that differs from the one there.
// - Dropped without an alert (offered again later by the protocol): a gap
//   across batches (a lost message), records whose origin's key is not known
//   here yet, and records of a newer format.
// A creation record without its material (every copy loses it to a destroy)
// is admitted; while this node does not hold the object as destroyed it is
// counted (Result::withheld): a relay may so withhold material (known limit).
// A truncated chain (a run without its signed record) is never admitted; the
// rest arrives from any node.
//
// One signature check per origin per batch where it can (issue 12, P4): in
// a batch holding several of an origin's signed records (a catch-up, a
// relay), only the last one's signature is checked as it comes; the earlier
// ones wait in the run like unsigned records (the run bound counts from the
// last signed record). Once the last verifies, the chain vouches for all of
// them, and the earlier signatures are removed from the admitted copies
// (the chain digest does not cover them; this node has not checked them, so
// it must not pass them on as checked), except where a downstream receiver
// needs one to keep each unsigned stretch of this node's copy within the
// run bound: those are checked (KeepSignaturesWithinRunBound). If such a
// check fails, or the last signature does, the whole run is refused.
//
// Sans-IO and deterministic: the store is read (applied vector, chain heads,
// log copies, object rows), never written; the signature scheme comes in.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "proto/replication.pb.h"
#include "storage/object_store.h"
#include "storage/record_auth.h"

namespace coffer::replication {

class ChainAdmission {
 public:
  struct Refusal {
    uint32_t origin = 0;
    uint64_t seq = 0;
    std::string reason;
  };
  struct Result {
    // In the order the core should see them (per origin, seq order).
    std::vector<pb::LogRecord> admitted;
    std::vector<Refusal> refused;
    uint64_t unverified = 0;  // origin key unknown, or a newer format
    uint64_t withheld = 0;    // creations admitted without material, not destroyed here
  };
  // The origin's public key from membership; empty if not known here.
  using KeyLookup = std::function<const std::string&(uint32_t origin)>;

  explicit ChainAdmission(const storage::ObjectStore& store) : store_(store) {}

  // Decides on the records of one RecordBatch from node `from`. May admit
  // records of earlier batches (a run vouched for by one of this batch).
  Result Admit(uint32_t from, const pb::RecordBatch& batch, storage::SignatureVerifier& verifier,
               const KeyLookup& key_of);

  // Records held waiting for a signature, over all origins and senders.
  size_t held_records() const;

 private:
  struct Held {
    pb::LogRecord record;
    std::string digest;  // storage::ChainDigest(record)
  };
  struct Run {  // one sender's unvouched records of one origin, in seq order
    std::deque<Held> records;
    size_t bytes = 0;
    // Records and bytes after the run's last signed record (not yet
    // checked): what the run bound limits.
    size_t unsigned_records = 0;
    size_t unsigned_bytes = 0;
  };
  struct OriginState {
    // Admitted, not yet applied here: seq -> chain digest (pruned as the
    // store applies them).
    std::map<uint64_t, std::string> admitted;
    std::map<uint32_t, Run> runs;  // by sending node
  };
  // One record of origin `state`; appends to `result`. `check_later`: r is
  // signed, and a later signed record of its origin in the same batch will be
  // checked instead.
  void AdmitOne(uint32_t from, const pb::LogRecord& r, bool check_later, OriginState& state,
                uint64_t applied_seq, storage::SignatureVerifier& verifier, const KeyLookup& key_of,
                Result& result);
  // Sets run.unsigned_records/bytes from its records (after some were dropped).
  static void RecountUnsigned(Run& run);
  // For a run whose last record's signature verified: removes the earlier
  // records' signatures, except those that keep every unsigned stretch within
  // kMaxUnvouchedRecords and kChainSignEveryBytes, which are checked. False
  // if one of those does not verify.
  static bool KeepSignaturesWithinRunBound(Run& run, std::string_view key,
                                           storage::SignatureVerifier& verifier);
  // Whether a record at a seq this node applied is the one it applied.
  bool SameAsApplied(const pb::LogRecord& r) const;

  const storage::ObjectStore& store_;
  std::map<uint32_t, OriginState> origins_;
};

}  // namespace coffer::replication
