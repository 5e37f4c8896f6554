// A deterministic simulation of a whole Coffer cluster in one process
// (architecture.md example 4). Every node runs the real ObjectStore (on the
// in-memory engine that models what a crash loses) and the real Replicator
// and ReplicationCore; only the network, the clocks and the clients are
// simulated. One seed fixes everything: the topology, the workload, the
// faults (drop, delay, duplicate, reorder, partitions incl. one-way, crashes
// that lose unsynced writes, restarts), a read-only node inducted mid-run in
// half the seeds (snapshot from a live node, possibly interrupted by a crash
// and resumed, then the log), node states (disable and enable, sometimes
// during partitions and crashes; a second disable, refused unless overridden;
// in a third of the seeds a short maximum disable duration, so a disabled
// node expires, its enable is refused, it is force-deleted and a new node is
// inducted in its place), log GC, group commit as the node runs it, and so
// the whole trace.
//
// After the faults heal, the checkers run:
//  - convergence: every node ends with the same state digest;
//  - no acknowledged write lost: every acknowledged request id is on every node
//    with the acknowledged result;
//  - pair guarantee: when a critical write was acknowledged, the record was
//    already durably applied on the acknowledging node's pair peer;
//  - no resurrection: on no node did an object leave DESTROYED or lose its
//    compromised flag;
//  - per-origin order: every node's log holds each origin's records 1..n
//    (from what GC left) without gaps, the same record at each position on
//    every node;
//  - no critical write accepted while the node was READ_ONLY_RESTRICTED;
//  - log GC never dropped a record a DISABLED node within its window lacks;
//  - an EXPIRED node's records are never merged by another node;
//  - a node goes ACTIVE only after two-way replication with every enabled
//    node since its catch-up started, having what they had;
//  - at most one node disabled at a time unless the override was used;
//  - after healing, the log each node retains is bounded by what a counted
//    member still lacks;
//  - storage faults (a disk filled or failing, then fixed): every node's
//    store resumed by itself, with nothing acknowledged lost (the checkers
//    above).
//  - versions (sim_versions.cc): every node runs a binary profile and the
//    cluster version steps as a node does; in mixed-version seeds the
//    operator restarts nodes one at a time on the next release (some seeds
//    leave one behind), gated writes are checked against each node's gate,
//    and a fault point crashes nodes right after they write a fence. No node
//    applies or writes a record above its binary's record format; no node's
//    cluster version falls, across restarts; while a member runs the older
//    release no node is at the newer version and every gated write is
//    refused; once every member runs the newer one, every node reaches it
//    and a gated write is acknowledged.
//  - orchestrated upgrades (sim_orchestrator.cc): the rolling-upgrade
//    orchestrator's core upgrades the cluster node by node to the next
//    release (a quarter of the seeds roll back part way) while clients
//    write, and is crashed and taken over; no pair ever has both nodes out
//    by the plan, read-only nodes go first, no node is stopped twice, and
//    every node ends on the plan's final release with the cluster version
//    risen (or, rolled back, unchanged).
//  - origin authentication: one node is a Byzantine relay while faults run
//    (it tampers with records it relays and forges records of other origins
//    at their next seq); no node applies any of those, and only that node's
//    records raise integrity alerts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace coffer::sim {

struct SimOptions {
  uint64_t seed = 1;
  // Virtual seconds of workload with faults, then the network heals.
  int fault_seconds = 8;
  // Virtual seconds allowed for convergence after healing.
  int settle_seconds = 30;
  // Client operations per virtual second (whole cluster).
  int ops_per_second = 60;
  // Inject faults (off: a clean run).
  bool faults = true;
  // A planted bug: a fault point (common/fault_point.h) armed to fail at
  // every hit for the whole run, e.g. "replication.ack_before_peer_persisted".
  // Empty: none.
  std::string plant;
  // A planted client bug: retry OUTCOME_UNKNOWN on any node without naming
  // the record (Request.retry_of), which can run the write twice.
  bool plant_retry_without_record = false;
  // Clients also change wallet membership and merge or move whole wallets
  // (WalletMemberOp, WalletTransferOp): concurrent ones must converge.
  bool wallet_ops = true;
  // Each node's group commit: a sync that follows another back to back
  // waits this long after the previous one started (GroupCommitOptions; the
  // node's storage.group_commit_interval_us): the node's default, 2 ms;
  // Simulation.SeedsWithoutGroupCommitInterval runs 0 (back to back).
  int64_t group_commit_interval_micros = 2000;
  // A mixed-version seed (sim_versions.cc): the operator restarts nodes on
  // NextRelease() during the run; clients send gated writes.
  bool mixed_versions = false;
  // Planted version bugs: gated writes skip the gate; stores read every
  // record format whatever their binary's profile says.
  bool plant_skip_gate = false;
  bool plant_store_reads_any_format = false;
  // An orchestrated upgrade seed (sim_orchestrator.cc): the rolling-upgrade
  // orchestrator (upgrade/orchestrator/) upgrades the cluster node by node
  // to NextRelease() while clients write, and is itself crashed and taken
  // over; a quarter of the seeds roll back part way. No operator disables
  // and no inductions (a plan refuses membership changes).
  bool upgrade = false;
  // Planted orchestrator-driver bugs (upgrade seeds): a new orchestrator
  // takes the plan over as the first node that answers has it (not the
  // newest of every member's); the observation leaves out each read-write
  // node's pair peer (the stepper's pair guard sees none).
  bool plant_takeover_from_one_node = false;
  bool plant_no_pair_peer = false;
  // The plan's DISABLING goes through another node than its target
  // whenever one is up with a working store (not through the target itself).
  bool plant_disable_through_any_node = false;
};

struct SimResult {
  uint64_t seed = 0;
  bool ok = false;
  std::vector<std::string> violations;  // empty when ok
  uint64_t trace_hash = 0;
  int nodes = 0;
  uint64_t acked_writes = 0;
  uint64_t refused_writes = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_dropped = 0;
  uint64_t crashes = 0;
  uint64_t inducted = 0;  // nodes inducted mid-run (snapshot, then the log)
  uint64_t unsynced_writes_lost = 0;
  // OUTCOME_UNKNOWN retries sent to a node that had not yet applied the
  // record they name (the node must hold them until it arrives).
  uint64_t retries_ahead_of_record = 0;
  // Node states and log GC.
  uint64_t disables = 0;          // accepted DISABLING writes
  uint64_t disables_refused = 0;  // a second disable without the override
  uint64_t enables = 0;           // accepted ENABLING writes
  uint64_t enables_refused_expired = 0;
  uint64_t activated = 0;  // ACTIVE steps (from PENDING or ENABLING)
  uint64_t force_deleted = 0;
  uint64_t log_records_collected = 0;
  // Storage faults (docs/storage-faults.md): disks filled or failing, and
  // stores that resumed after one.
  uint64_t disk_faults = 0;
  uint64_t storage_faults = 0;  // a node's store entered a fault
  uint64_t storage_resumes = 0;
  // The Byzantine relay: records it tampered with or forged, and the
  // integrity alerts the others raised (every one refused, none applied).
  uint64_t byzantine_records = 0;
  uint64_t integrity_alerts = 0;
  // Versions: restarts onto NextRelease(), gated writes acknowledged and
  // refused (FEATURE_NOT_ACTIVE), crashes right after a fence, and whether
  // the run ended with every node at the next cluster version.
  uint64_t upgraded = 0;
  uint64_t gated_let_through = 0;
  uint64_t gated_acked = 0;  // of those let through
  uint64_t gated_refused = 0;
  uint64_t fence_crashes = 0;
  bool mixed_versions = false;
  int64_t group_commit_interval_micros = SimOptions{}.group_commit_interval_micros;
  bool ended_on_next_version = false;
  // Orchestrated upgrade seeds: the plan's end state (FINALIZED or
  // ROLLED_BACK, "" if it never got there), its actions performed,
  // orchestrator crashes (those between an action and its persist too),
  // takeovers by a new orchestrator, plans PAUSED by a timeout and resumed.
  bool upgrade = false;
  std::string plan_end;
  uint64_t plan_actions = 0;
  uint64_t orchestrator_crashes = 0;
  uint64_t crashes_before_persist = 0;
  uint64_t takeovers = 0;
  uint64_t plan_pauses = 0;
  uint64_t pause_requests = 0;  // the operator's, written (some lost to a race)
  uint64_t abort_requests = 0;
  double upgrade_seconds = -1;          // from the plan's creation to its end
  double converged_after_seconds = -1;  // after healing; -1 if never
  // A one-line command that replays this seed.
  std::string ReplayCommand() const;
  std::string Summary() const;
};

SimResult RunSimulation(const SimOptions& options);

}  // namespace coffer::sim
