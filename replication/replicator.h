// Replicator: one node's replication driver. Binds the sans-IO
// ReplicationCore to the node's ObjectStore and a Transport, and performs what
// the core decides: sends messages, reads records to send from the log,
// applies received records (many unsynced, then one sync: group commit),
// acknowledges or fails client writes, confirms names.
//
// It reads time from the injected Clock and does no other I/O of its own, so
// the simulation runs the same code as a real node.
//
// Threading: not thread-safe; the node's store thread (or the simulation)
// calls every method. Callbacks run on that thread, inside the call.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "common/clock.h"
#include "replication/chain_admission.h"
#include "replication/core/replication_core.h"
#include "replication/transport.h"
#include "storage/object_store.h"
#include "storage/record_auth.h"

namespace coffer::replication {

// Names one log record: the `seq`-th record made by node `origin`.
struct RecordRef {
  uint32_t origin = 0;
  uint64_t seq = 0;
  friend bool operator==(const RecordRef&, const RecordRef&) = default;
};

// A received record refused before it reached the core: its origin did not
// make it (it does not chain, or its run's signature does not verify with
// that origin's key; chain_admission.h), or it differs from the record this
// node applied at that seq. Never applied, never occupies a seq; the genuine
// record still comes from any node.
struct IntegrityAlert {
  uint32_t origin = 0;
  uint64_t seq = 0;
  uint32_t from = 0;  // the node that sent it
  std::string reason;
  // "record 1:5 from node 2 refused: <reason>"
  std::string ToString() const;
};

// The answer to a client write.
struct WriteAnswer {
  StatusOr<pb::OpResult> result;
  // With OUTCOME_UNKNOWN: the record that carries the write if it took
  // effect. A retry that names it (Write's `retry_of`) is safe on any node.
  std::optional<RecordRef> record;
};

class Replicator {
 public:
  using WriteDone = std::function<void(WriteAnswer)>;

  // At most this many retries wait for their record at once (more are
  // refused with RESOURCE_EXHAUSTED).
  static constexpr size_t kMaxHeldRetries = 4096;

  // The store must outlive the replicator and be used only through it.
  Replicator(storage::ObjectStore& store, std::vector<Member> members, CoreOptions options,
             Transport& transport, const Clock& clock);

  // A client's critical write. `done` runs once: with the result after the
  // pair peer durably applied the record, or with READ_ONLY_RESTRICTED /
  // READ_ONLY_NODE (nothing written), a validation error (nothing written),
  // or OUTCOME_UNKNOWN naming the record (pair timeout or failed sync).
  //
  // Retries reuse the request id. A retry of an id this node already has is
  // answered from its record, once the pair peer has that record. A retry
  // that names the record of an earlier OUTCOME_UNKNOWN (`retry_of`, from
  // any node) is held until this node has applied that record, then
  // answered the same way; if the record was lost with its origin's unsynced
  // writes, the write runs as new. A held retry that sees no record within
  // the pair timeout gets OUTCOME_UNKNOWN again. So a retry with `retry_of`
  // is safe on any node; without it, only on a node that has the record.
  void Write(const pb::Op& op, const std::string& request_id, std::optional<RecordRef> retry_of,
             WriteDone done);

  // Group commit for client writes. When enabled, Write() commits without an
  // fsync and the caller calls Flush() once a batch of Writes is in: one sync
  // makes them all durable, and only then are they sent or acknowledged (a
  // record is never sent before it is durable here). Tick() also flushes.
  // Default: off (each Write syncs).
  // Received records are then applied unsynced too, and reported once a
  // sync covers them.
  void EnableGroupCommit() { group_commit_ = true; }
  void Flush();

  // Flush() in two halves, so the fsync can run on another thread while this
  // one goes on executing writes and applying received records (whatever
  // arrives meanwhile joins the next batch): TakeUnsynced() hands out what
  // waits for a sync; after a KvStore sync that started after TakeUnsynced()
  // returned, Committed() sends and acknowledges the writes and reports the
  // received records durable (or fails the writes if the sync failed).
  //
  // Received records are applied unsynced as they come (group commit on the
  // apply side, when group commit is enabled): a record is reported to its
  // sender, and so acknowledged, only once a sync covers it.
  struct Unsynced {
    uint64_t seq;
    uint64_t token;
  };
  struct SyncBatch {
    std::vector<Unsynced> writes;
    // The store's applied vector when the batch was taken: durable once the
    // sync returns.
    storage::VersionVector applied;
    bool received = false;  // received records wait for this sync
    bool empty() const { return writes.empty() && !received; }
  };
  SyncBatch TakeUnsynced();
  // Work waits for a sync: TakeUnsynced would not return an empty batch.
  bool HasUnsynced() const { return !unsynced_.empty() || received_unsynced_; }
  void Committed(const SyncBatch& batch, const Status& synced);
  // The sync of a group commit, for Flush() and for a driver that runs it
  // on another thread (callable from any thread, as ObjectStore::Sync).
  // The fault point "group_commit.skip_fsync" (a planted bug the simulation
  // must catch) returns OK without syncing.
  static Status SyncGroupCommit(storage::ObjectStore& store);

  // A write the node makes itself that needs no pair acknowledgement and is
  // not refused by the write mode: the controller's NodeAdded during
  // induction (the candidate receives it in its snapshot, which makes the
  // second copy). Synced before it returns.
  StatusOr<pb::OpResult> WriteUnpaired(const pb::Op& op, const std::string& request_id);

  // The store left a storage fault (ObjectStore::ResumeStorage succeeded,
  // which made every applied record durable): records whose sync failed
  // during the fault are reported (remote ones) and sent (own ones) now,
  // instead of waiting for the next write. Call it before any write is
  // executed after the resume.
  void StorageResumed();

  // Fails every write still waiting (for a flush or the pair peer) with
  // `status`; for shutdown.
  void AbandonWaiting(const Status& status);

  // Records are checked first (origin authentication, replication/README.md):
  // refused ones never reach the core.
  void Receive(uint32_t from, const pb::ReplicationMessage& message);

  // Origin authentication: received records are admitted in chain order once
  // a signature of their origin vouches for them (chain_admission.h),
  // checked with the origin's public key (from this node's membership) by
  // `verifier` (must outlive the replicator). Without one, records are taken
  // unchecked: for protocol tests only; nodes and the simulation always set
  // one.
  void SetSignatureVerifier(storage::SignatureVerifier* verifier) { verifier_ = verifier; }
  // Called (on the owner's thread) for every refused record.
  void SetIntegrityAlertObserver(std::function<void(const IntegrityAlert&)> observer) {
    alert_observer_ = std::move(observer);
  }
  uint64_t integrity_alerts() const { return integrity_alerts_; }
  const std::optional<IntegrityAlert>& last_integrity_alert() const { return last_alert_; }
  // A received record stamped more than kMaxClockOffsetMicros ahead of this
  // node's wall clock (semantics 3, "Clocks": its origin's clock is ahead) is
  // refused: not applied, offered again by the protocol, applied once it is
  // within the offset. Each refusal is counted here (one per origin per
  // received batch) and the observer told (from = 0: the apply does not know
  // the sender). Not an integrity alert: the record is genuine.
  void SetClockRefusalObserver(std::function<void(const IntegrityAlert&)> observer) {
    clock_observer_ = std::move(observer);
  }
  uint64_t clock_refusals() const { return clock_refusals_; }
  const std::optional<IntegrityAlert>& last_clock_refusal() const { return last_clock_refusal_; }
  // Records dropped because their origin's key is not known here yet (its
  // NodeAdded has not arrived): not an alert; they are sent again later.
  uint64_t unverified_records() const { return unverified_records_; }
  // Creation records admitted without their material while this node did not
  // hold the object as destroyed (legitimate when the destroy is on its way;
  // also what a relay withholding material looks like: a known limit).
  uint64_t withheld_material_records() const { return withheld_material_records_; }
  // Received records waiting for their origin's signature.
  size_t unvouched_records() const { return admission_.held_records(); }
  // Membership changed (see ReplicationCore::SetMembers).
  void SetMembers(std::vector<Member> members);
  // Called (on the owner's thread) for every record from another node once
  // it is applied here, e.g. to measure replication lag.
  void SetAppliedObserver(std::function<void(const pb::LogRecord&)> observer) {
    applied_observer_ = std::move(observer);
  }
  // ENABLING or PENDING: starts the wait for ACTIVE (ReplicationCore::CaughtUp).
  void StartCatchUp() { core_.StartCatchUp(clock_.MonotonicMicros()); }
  // Heartbeats, timeouts, sends. Call it often (every few ms). Without group
  // commit it also syncs what waits; with it, the driver's group commit does.
  void Tick();

  const ReplicationCore& core() const { return core_; }
  // Errors met while applying or reading records (counted, then retried by the protocol).
  uint64_t apply_errors() const { return apply_errors_; }
  const Status& last_apply_error() const { return last_apply_error_; }

 private:
  // The records that may go to the core now (see Receive): of `batch`, and
  // of earlier batches that a record of `batch` vouches for.
  pb::ReplicationMessage AdmitRecords(uint32_t from, const pb::RecordBatch& batch);
  // Empty if this node does not know the origin's key.
  const std::string& OriginKey(uint32_t origin, bool* reloaded);
  void Alert(IntegrityAlert alert);
  void Pump();
  void Finish(uint64_t token, StatusOr<pb::OpResult> result);
  // Runs the held retries whose record has arrived; fails those past their deadline.
  void ReleaseHeldRetries();
  bool HasApplied(const RecordRef& record) const;

  storage::ObjectStore& store_;
  Transport& transport_;
  const Clock& clock_;
  ReplicationCore core_;
  uint64_t next_token_ = 1;
  struct Waiting {
    pb::OpResult result;
    WriteDone done;
    std::optional<RecordRef> record;  // named in an OUTCOME_UNKNOWN answer
  };
  std::map<uint64_t, Waiting> waiting_;
  struct HeldRetry {
    pb::Op op;
    std::string request_id;
    RecordRef retry_of;
    int64_t deadline_micros;
    WriteDone done;
  };
  std::deque<HeldRetry> held_retries_;  // waiting for their record, oldest first
  int64_t retry_hold_micros_;
  std::function<void(const pb::LogRecord&)> applied_observer_;
  bool group_commit_ = false;
  std::vector<Unsynced> unsynced_;  // committed without fsync, awaiting Flush()
  bool received_unsynced_ = false;  // received records applied without fsync
  uint64_t flushed_seq_ = 0;        // own records up to here are durable
  uint64_t apply_errors_ = 0;
  Status last_apply_error_;
  storage::SignatureVerifier* verifier_ = nullptr;
  std::map<uint32_t, std::string> origin_keys_;  // cleared on SetMembers
  std::function<void(const IntegrityAlert&)> alert_observer_;
  uint64_t integrity_alerts_ = 0;
  std::optional<IntegrityAlert> last_alert_;
  std::function<void(const IntegrityAlert&)> clock_observer_;
  uint64_t clock_refusals_ = 0;
  std::optional<IntegrityAlert> last_clock_refusal_;
  uint64_t unverified_records_ = 0;
  uint64_t withheld_material_records_ = 0;
  ChainAdmission admission_;
};

}  // namespace coffer::replication
