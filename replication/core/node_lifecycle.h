// Node states and log GC without I/O (semantics.md section 5): the decisions
// a node makes about its own lifecycle and about what its log may drop,
// taken from the replication core's view and the membership, with time passed
// in as a value. The node (node/node.cc) and the simulation (tests/sim/)
// perform what these return: they write the state change, call
// StartCatchUp, or delete the log records.
//
// Threading: not thread-safe; the owner of the ReplicationCore calls them.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "proto/records.pb.h"
#include "replication/core/replication_core.h"

namespace coffer::replication {

// What a node's membership table says of one member.
struct MemberRecord {
  uint32_t id = 0;
  pb::NodeState state = pb::NODE_ACTIVE;  // stored state (never UNSPECIFIED)
  // DISABLED only: the wall time (microseconds) its window ends
  // (disabled_at + the cluster's maximum disable duration), and the version
  // vector it had applied when it went DISABLED (what the others keep for it).
  int64_t window_end_wall_micros = 0;
  VersionVector disabled_applied{};
};

// A DISABLED member whose window has ended at wall time `wall_now_micros`:
// EXPIRED. It may not be enabled, its stale data is never merged, and log GC
// keeps nothing for it.
bool Expired(const MemberRecord& member, int64_t wall_now_micros);

// How the replication protocol treats a member in `state`
// (ReplicationCore's MemberState): DISABLED (and EXPIRED) members exchange no
// records, DISABLING ones take no client writes.
MemberState ProtocolState(pb::NodeState state);

// This node's next lifecycle step, as decided by NodeLifecycle::Decide.
struct LifecycleStep {
  // PENDING or ENABLING, first seen: call ReplicationCore::StartCatchUp now.
  bool start_catch_up = false;
  // Write this state for this node (DISABLED or ACTIVE), then re-read membership.
  std::optional<pb::NodeState> next;
};

// The DISABLING -> DISABLED and PENDING/ENABLING -> ACTIVE steps of one node.
class NodeLifecycle {
 public:
  // `self_state` is this node's stored state; `core` its replication core.
  //  - DISABLING becomes DISABLED once the core takes no client writes, no
  //    critical write waits for its pair peer, and every other enabled member
  //    reported all of this node's own records (the hand-off is done);
  //  - PENDING or ENABLING first asks for StartCatchUp, then becomes ACTIVE
  //    once the core is CaughtUp (both directions work with every other
  //    enabled member since the start, and this node has what they had).
  // Any other state forgets a catch-up in progress.
  LifecycleStep Decide(pb::NodeState self_state, const ReplicationCore& core);

  // A catch-up was started and this node is still PENDING or ENABLING. A
  // step that could not be written is simply decided again next time.
  bool catching_up() const { return catching_up_; }

 private:
  bool catching_up_ = false;
};

struct LogGcOptions {
  // GC runs at most this often. Default: 1 s.
  int64_t interval_micros = 1'000'000;
  // At most this many records per origin per round (a round never holds the
  // store long). Default: 20,000.
  uint64_t max_records_per_round = 20'000;
};

// Decides when log GC runs and what it may drop.
class LogGc {
 public:
  explicit LogGc(LogGcOptions options = {}) : options_(options) {}

  // True at most once per interval of monotonic time (the first call is due).
  bool Due(int64_t now_micros);

  // Per origin, the highest seq the log may be collected through: what this
  // node has applied (`applied`) and every counted member has applied too.
  // Counted: every member but this node and EXPIRED ones; a DISABLED one
  // within its window counts with its `disabled_applied`, the others with
  // what they last reported to `core`. Returns nullopt (drop nothing) while a
  // counted member has not been heard from since this node started: what it
  // has is unknown.
  std::optional<VersionVector> CollectibleThrough(uint32_t self, const VersionVector& applied,
                                                  const std::vector<MemberRecord>& members,
                                                  const ReplicationCore& core,
                                                  int64_t wall_now_micros) const;

  const LogGcOptions& options() const { return options_; }

 private:
  LogGcOptions options_;
  std::optional<int64_t> last_run_;
};

// Group commit (one fsync for all the work that came in while the previous
// one ran: client writes executed unsynced, received records applied), the
// decisions only. The driver takes the work waiting for a sync
// (Replicator::TakeUnsynced), runs the sync off the owner's thread, and hands
// the result back (Replicator::Committed).
//
//   if (group.WritesArrived(now)) StartSync();   // after work was done unsynced
//   ...when a sync is done, on the owner's thread:
//   if (auto at = group.SyncDone(now, synced.ok() && replicator.HasUnsynced()))
//     StartSyncAt(*at);
//
// where StartSync takes the unsynced work and, if there is none, calls
// group.NothingToSync().
struct GroupCommitOptions {
  // A sync that follows another back to back (work came in while the
  // previous one ran) starts no sooner than this after the previous one
  // started; a sync after an idle moment starts at once. Under load each
  // sync then covers more work: fewer fsyncs, chain signatures (one per
  // group commit) and signature checks on every receiver per write, at the
  // price of up to this much more latency for a write that just missed a
  // sync. 0: back to back (node config storage.group_commit_interval_us).
  int64_t min_interval_micros = 0;
};

class GroupCommit {
 public:
  GroupCommit() = default;
  explicit GroupCommit(GroupCommitOptions options) : options_(options) {}

  // Work was done unsynced at `now_micros` (monotonic). True: start a sync
  // now. False: one is running or scheduled; SyncDone decides on the next.
  bool WritesArrived(int64_t now_micros);
  // A sync finished at `now_micros` and its batch was handed back
  // (Replicator::Committed); `work_waiting`: it succeeded and unsynced work
  // is there now (Replicator::HasUnsynced), asked of the replicator rather
  // than counted from WritesArrived calls (a call during a put-off sync's
  // wait would otherwise ask for an empty sync after it, and the next work
  // would then start one at once, unspaced). After a failed sync pass false:
  // its work waits for the next WritesArrived (a tick or a message), so a
  // failing disk is not retried in a loop. Returns when to start the next
  // sync (at or before now: at once), or nullopt: none now (the next
  // WritesArrived starts one).
  std::optional<int64_t> SyncDone(int64_t now_micros, bool work_waiting);
  // StartSync found no work waiting: no sync runs.
  void NothingToSync() { in_flight_ = false; }

  bool sync_in_flight() const { return in_flight_; }

 private:
  GroupCommitOptions options_;
  bool in_flight_ = false;  // a sync is running, or scheduled by SyncDone
  std::optional<int64_t> last_start_;
};

}  // namespace coffer::replication
