// The simulation's insides, shared by its files by concern: simulation.cc
// (topology, boot and crash, the network, the run loop), sim_workload.cc (the
// clients), sim_faults.cc (network faults, crashes, induction, node states
// and log GC driven like an operator would) and sim_checkers.cc (what must
// hold). See simulation.h for what it runs and checks.
#pragma once

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/rng.h"
#include "replication/core/node_lifecycle.h"
#include "replication/core/storage_guard.h"
#include "replication/replicator.h"
#include "storage/mem_kv_store.h"
#include "storage/test_util.h"
#include "tests/sim/simulation.h"
#include "upgrade/binary_profile.h"
#include "upgrade/gate.h"
#include "upgrade/orchestrator/stepper.h"

namespace coffer::sim {

using replication::Member;
using replication::Role;
using replication::VersionVector;

// "node 3": how violations and logs name a node.
inline std::string NodeName(uint32_t id) { return "node " + std::to_string(id); }

constexpr int64_t kMs = 1000;
constexpr int64_t kSecond = 1000 * kMs;
constexpr int64_t kTickMicros = 10 * kMs;
constexpr int64_t kEpochMicros = 1'800'000'000'000'000;
// Per-node wall clock skew is within +-kMaxSkewMicros.
constexpr int64_t kMaxSkewMicros = 100 * kMs;
// The origin of the records every node starts with (the cluster and its
// first members), as if a node that has since left had written them.
constexpr uint32_t kGenesisOrigin = 99;

// A node's view of virtual time: monotonic time is shared, wall time is
// skewed per node (within the HLC's maximum offset).
class SimClock final : public Clock {
 public:
  SimClock(const int64_t* now, int64_t skew) : now_(now), skew_(skew) {}
  int64_t WallMicros() const override { return kEpochMicros + *now_ + skew_; }
  int64_t MonotonicMicros() const override { return *now_; }

 private:
  const int64_t* now_;
  int64_t skew_;
};

class Simulation;

class SimTransport final : public replication::Transport {
 public:
  SimTransport(Simulation* sim, uint32_t from) : sim_(sim), from_(from) {}
  void Send(uint32_t to, const pb::ReplicationMessage& message) override;

 private:
  Simulation* sim_;
  uint32_t from_;
};

struct SimNode {
  uint32_t id = 0;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<SeededRng> rng;
  // scrypt at its smallest: a node's store is opened at every boot (the
  // derivation is not what the simulation tests, and was a fifth of its time).
  std::unique_ptr<storage::RootOfTrust> root =
      storage::NewPassphraseRootOfTrust(SecretBytes(std::string("sim-passphrase")),
                                        storage::ScryptParams{2, 1, 1})
          .value();
  std::shared_ptr<storage::MemKvDisk> disk = storage::NewMemKvDisk();
  // Record signatures (storage/record_auth.h), the fake scheme: the key its
  // membership row records, its signer and its verifier of received records.
  std::string public_key;
  std::unique_ptr<storage::RecordSigner> signer;
  std::unique_ptr<storage::SignatureVerifier> verifier = storage::MakeFakeSignatureVerifier();
  std::unique_ptr<storage::ObjectStore> store;
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<replication::Replicator> replicator;
  // Process state: a crash starts these afresh.
  replication::NodeLifecycle lifecycle;
  replication::LogGc gc;
  replication::GroupCommit group_commit;
  // Storage faults, as node/monitoring/storage_watch.h drives them.
  replication::StorageGuard storage;
  bool disk_io_error = false;  // an injected I/O error on `disk` (sim_disk_faults.cc)
  // Up, with a disk without an injected fault and a writable store: where an
  // operator sends an induction or a force-delete.
  bool storage_ok() const {
    return up() && !disk->free_bytes() && !disk_io_error && storage.writable() &&
           store->StorageFault().ok();
  }
  std::string members_fingerprint;  // membership last given to the replicator
  // Membership as last read from the store (every 100 ms, as the node does,
  // and after the node's own state changes).
  std::vector<pb::StoredNode> members;
  int64_t members_read_at = 0;
  uint64_t incarnation = 0;
  bool deleted = false;  // force-deleted: stopped for good
  bool up() const { return replicator != nullptr; }
  // uuid -> (seen destroyed, seen compromised)
  std::map<std::string, std::pair<bool, bool>> seen;
  // An inducted node's log starts after its snapshot's position.
  std::map<uint32_t, uint64_t> log_starts_after;
  // Per origin, the last record applied in this process (from the store's
  // applied vector at boot).
  std::map<uint32_t, uint64_t> last_applied;
  // The binary it runs (sim_versions.cc): CurrentRelease() until the
  // operator restarts it on NextRelease(). Kept across crashes.
  const upgrade::BinaryProfile* profile = &upgrade::CurrentRelease();
  // Its gate, as node/cluster/version_keeper.cc keeps it: rebuilt from the
  // store at every version round (and at boot). Process state.
  std::optional<upgrade::GateSnapshot> gate;
  int64_t version_round_at = 0;
  // The highest cluster version it ever had, across restarts (checker).
  Release highest_version;
  // The binary its controller starts next (sim_orchestrator.cc's swap;
  // nullptr: `profile`). Boot runs it.
  const upgrade::BinaryProfile* installed = nullptr;
  // Stopped by the upgrade plan: no supervisor restarts it (a crash's
  // restart, HealAll) until the plan starts it.
  bool held_stopped = false;
};

// The simulated rolling-upgrade orchestrator's process state
// (sim_orchestrator.cc): an orchestrator crash drops all of it.
struct SimOrchestrator {
  std::string owner;
  upgrade::Stepper stepper;
  std::optional<pb::UpgradePlan> plan;  // as last persisted or read
  bool done = false;                    // the plan ended and the version hold was released
};

struct AckedWrite {
  std::string request_id;
  std::string uuid;
  uint32_t node;
};

struct IssuedWrite {
  pb::Op op;
  std::string request_id;
};

// A write the client sends again, with the same request id, to any node: one
// that was refused (nothing was written), or one whose outcome is unknown
// (the retry names the record the OUTCOME_UNKNOWN answer named).
struct Retryable {
  IssuedWrite write;
  std::optional<replication::RecordRef> retry_of;
};

// A node catching up (PENDING or ENABLING): what it has seen since the start,
// for the checker that it goes ACTIVE only after two-way replication.
struct CatchUpWatch {
  int64_t started = 0;
  // Per member: the first report it sent to the node after the start.
  std::map<uint32_t, VersionVector> heard_from{};
  // Members that received a report the node sent after the start.
  std::set<uint32_t> reached{};
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options)
      : options_(options), rng_(options.seed), disk_rng_(options.seed * 7919ULL + 17) {
    result_.seed = options.seed;
  }

  SimResult Run();
  void Send(uint32_t from, uint32_t to, const pb::ReplicationMessage& message);

 private:
  struct Event {
    int64_t time;
    uint64_t order;
    std::function<void()> action;
    bool operator>(const Event& other) const {
      return std::tie(time, order) > std::tie(other.time, other.order);
    }
  };

  void At(int64_t time, std::function<void()> action) {
    events_.push(Event{time, next_order_++, std::move(action)});
  }
  void Trace(std::string_view what, uint64_t a, uint64_t b, uint64_t c);
  void Violation(const std::string& what) {
    if (result_.violations.size() < 20) result_.violations.push_back(what);
  }
  double Chance() { return static_cast<double>(rng_.Uniform(1'000'000)) / 1e6; }
  // Whether `time` is within the run (faults, then settling): the
  // operator's retries stop there, so the event queue always drains.
  bool BeforeEnd(int64_t time) const {
    return time <= (options_.fault_seconds + options_.settle_seconds) * kSecond;
  }

  // simulation.cc
  void BuildTopology();
  std::vector<pb::LogRecord> GenesisRecords() const;
  bool OpenStore(SimNode& node);
  void Boot(SimNode& node);
  void Crash(SimNode& node);
  void Stop(SimNode& node);  // for good (force-deleted)
  std::vector<uint32_t> UpNodes() const;
  SimNode* Node(uint32_t id);
  // COFFER_SIM_DEBUG=1: every traced event, and at a failed convergence each
  // node's applied vector and membership, on stderr.
  void DumpNodes();
  // Membership as the node's own store has it.
  std::vector<pb::StoredNode> MembersOf(const SimNode& node) const;
  void RefreshMembers(SimNode& node, bool force = true);
  // Group commit as the node runs it: one sync at a time, a virtual sync time.
  void ScheduleFlush(SimNode& node);
  void StartSync(SimNode& node);
  // Node states and log GC, as node.cc's tick drives them.
  void StepNode(SimNode& node);

  // sim_disk_faults.cc
  // A node's disk fills (a few writes' room left) or fails with I/O errors,
  // and is fixed a little later; HealAll fixes every disk.
  void DiskFault();
  void FixDisks();
  // StorageGuard's decisions, performed as the node's StorageWatch does: a
  // resume attempt takes a little virtual time.
  void StepStorage(SimNode& node);
  // After healing, every node's store must have resumed.
  void CheckStorageResumed();

  // sim_workload.cc
  void ClientOp();
  void Issue(uint32_t target, const IssuedWrite& write,
             std::optional<replication::RecordRef> retry_of, bool retry);
  // `retry_of`: the record this attempt named (an earlier OUTCOME_UNKNOWN's),
  // kept for the next attempt if this one is refused.
  void OnWriteDone(uint32_t node, const IssuedWrite& write, const replication::WriteAnswer& answer,
                   std::optional<replication::RecordRef> retry_of = std::nullopt);
  bool HeldDurably(SimNode& node, uint32_t origin, uint64_t seq);

  // sim_faults.cc
  void Fault();
  void HealAll();
  void Induct(std::optional<uint32_t> pair_with);
  // Operator steps on node states; each checks what it may and records the outcome.
  void AdminDisable();
  void AdminEnable(SimNode& node);
  void AdminForceDelete(uint32_t target);
  // After healing: enables DISABLED nodes within their window, force-deletes
  // EXPIRED ones (and inducts a replacement), so every node ends ACTIVE.
  void SettleLifecycle();
  // The node's own row as lifecycle and GC read it (nullopt: no cluster yet).
  std::optional<replication::MemberRecord> SelfRecord(const SimNode& node) const;
  // DISABLED: microseconds left in its window by its own clock (0: EXPIRED);
  // nullopt if it is not DISABLED.
  std::optional<int64_t> WindowLeft(const SimNode& node) const;

  // sim_checkers.cc
  void SampleStates();
  bool Converged();
  void FinalChecks();
  void ObserveReport(uint32_t from, uint32_t to, const pb::Report& report);
  void CheckActiveStep(SimNode& node);
  void CheckLogGc(SimNode& node);
  void CheckExpiredNeverMerged();
  void CheckRetainedLogBounded();
  // Every record a node applies from another: in order per origin, exactly
  // once, and the same record as every other node applied at that position.
  void ObserveApplied(uint32_t node, const pb::LogRecord& record);
  // A record refused by `node` (origin authentication): only the Byzantine
  // node's records may be.
  void ObserveIntegrityAlert(uint32_t node, const replication::IntegrityAlert& alert);

  // sim_versions.cc: binaries and the cluster version (simulation.h).
  // The version round as node.cc runs it (every 100 ms, only while the
  // store is writable): upgrade::StepClusterVersion, then the gate; checks
  // the version never falls and is not the next minor while a member runs
  // the current release.
  void StepVersions(SimNode& node);
  void RefreshGate(SimNode& node);
  // The operator's rolling restart onto NextRelease(), one node at a time.
  void RolloutStep();
  // Whether every member (not force-deleted) runs NextRelease().
  bool AllRunNext() const;
  // The gate check of a client write (node/api/feature_gates.h), as the
  // node's Serve runs it; the refusal, if any.
  Status CheckGates(SimNode& node, const IssuedWrite& write);
  // Checker: `node` ran with `profile` when it applied or wrote `record`.
  void CheckRecordFormat(const SimNode& node, const pb::LogRecord& record, std::string_view how);
  // Checker: the records `node` wrote itself after `own_before`.
  void CheckOwnRecords(const SimNode& node, uint64_t own_before);
  // No version step pending on any up node (part of convergence).
  bool VersionsQuiescent();
  // At convergence: every node at the next minor if every member runs NextRelease(),
  // and a gated write is issued that must be acknowledged by the end.
  void OnConvergedVersions();
  void FinalVersionChecks();

  // sim_orchestrator.cc: the rolling-upgrade orchestrator (upgrade seeds).
  // Polls every 100 ms: observes, asks upgrade::Stepper, performs and
  // persists; creates the plan first (version hold, pre-checks, MakePlan)
  // and finalizes it at the end (Finalize, hold released). Crashes at
  // seeded moments (between an action and its persist too); a new
  // orchestrator with another owner reads the plan from a node's store and
  // takes it over once the lease ran out.
  void StartOrchestrator();
  void OrchestratorPoll();
  void CrashOrchestrator(bool before_persist);
  // What the orchestrator sees: membership and the plan as the up node
  // with the newest plan has them, each node's status, the controller's
  // view (nullopt: no node answers).
  std::optional<upgrade::ClusterObservation> ObserveCluster();
  // The plan with the highest revision any up node's store has (stores in
  // a storage fault excluded).
  std::optional<pb::UpgradePlan> ReadStoredPlan();
  // Every member is up with a working store, or kept stopped by the plan
  // (stopped after it reported itself DISABLED: its records, plan writes
  // included, are on the others): the plan read from all of them is the
  // newest.
  bool AllMembersAnswer(const upgrade::ClusterObservation& o);
  // One decision of the stepper performed; false if it failed (nothing
  // persisted; the next poll decides again).
  bool Perform(const upgrade::Decision& decision);
  // Writes `plan` (one revision above the orchestrator's copy) through
  // `via` (0: an up node that has the copy's revision); adopts it on
  // success.
  bool PersistPlan(const pb::UpgradePlan& plan, uint32_t via);
  StatusOr<pb::OpResult> OrchestratorWrite(uint32_t via, const pb::Op& op, std::string_view what);
  void StopForUpgrade(SimNode& node);
  // A fault in the window between STOP and SWAP: just persisted `plan`
  // with its current node at STOP, the node crashes now and then (its
  // supervisor restarts it a little later); at SWAP with the node crashed
  // rather than stopped by the plan, the next decision waits a poll. True:
  // the poll ends here.
  bool CrashAtStop(const pb::UpgradePlan& plan);
  // Checkers: every tick, no read-write pair has both nodes taken out by
  // the plan (disabled or stopped by it); at the end, the plan's outcome.
  void CheckUpgradeSafety();
  // `coffer upgrade pause` or `abort` (control.h) through an ACTIVE node,
  // sent again (up to `tries_left` times) until the plan shows it.
  void OperatorRequest(bool abort, int tries_left);
  void FinalUpgradeChecks();
  bool UpgradeSettled() const;

  // sim_byzantine.cc: the Byzantine relay. Rewrites a batch the node sends:
  // a record's content changed under its original signature, a record
  // forged for another origin at its next seq (signed with its own key, or
  // unsigned), a forged unsigned record in the middle of a chain, a reordered
  // pair, or a truncated chain (an origin's records cut before its signed
  // one, the last kept unsigned). Each record it made up is remembered; no
  // node may apply one.
  void TamperBatch(uint32_t from, pb::ReplicationMessage& message);
  static std::string Comparable(const pb::LogRecord& record);

  SimOptions options_;
  SeededRng rng_;
  SeededRng disk_rng_;  // disk faults draw here: the other draws stay as they were
  SimResult result_;
  int64_t now_ = 0;
  uint64_t next_order_ = 0;
  uint64_t trace_ = 1469598103934665603ULL;
  const bool debug_ = std::getenv("COFFER_SIM_DEBUG") != nullptr;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Member> topology_;  // the first members
  std::map<uint32_t, std::unique_ptr<SimNode>> nodes_;
  bool faulty_ = false;
  double drop_chance_ = 0;
  double duplicate_chance_ = 0;
  int64_t max_delay_ = 2 * kMs;
  std::set<std::pair<uint32_t, uint32_t>> blocked_;  // (from, to)
  std::vector<Retryable> retryable_;
  std::vector<AckedWrite> acked_;
  std::vector<std::string> known_objects_;
  uint64_t next_request_ = 0;

  // Node states.
  uint64_t max_disable_seconds_ = 3600;  // the cluster setting of this seed
  bool short_window_ = false;            // the window ends within the run
  std::set<uint32_t> disabled_;          // disabled by an accepted DISABLING, not ACTIVE again
  bool override_used_ = false;
  int admin_steps_pending_ = 0;  // scheduled force-deletes and inductions
  // The NodeAdded record of the last induction (origin, seq): the operator
  // inducts the next node only through a controller that has applied it, as
  // docs/cluster.md asks (two controllers that do not know each other's
  // NodeAdded could pick the same node id).
  std::optional<std::pair<uint32_t, uint64_t>> last_node_added_;
  std::map<uint32_t, uint64_t> expired_seq_;  // EXPIRED node -> its own records then
  std::set<uint32_t> pending_delete_;         // force-delete scheduled
  std::map<uint32_t, CatchUpWatch> catching_up_;
  // Per node: what the simulated disk is known to hold durably (the store's
  // vector at boot, after recovery, and at each group-commit sync that
  // succeeded), max-merged. The log-GC checker's ground truth of what a
  // DISABLED node has beyond the vector its DISABLED record carries.
  std::map<uint32_t, replication::VersionVector> durable_floor_;
  void RaiseDurableFloor(uint32_t id, const replication::VersionVector& durable);
  // The Byzantine relay (0: none): its own rng, so the rest of a seed's trace
  // is drawn as before.
  uint32_t byzantine_ = 0;
  SeededRng byzantine_rng_{0};
  std::set<std::string> byzantine_records_;  // Comparable() of each record it made up
  // Mixed-version seeds (sim_versions.cc).
  std::optional<uint32_t> left_behind_;  // the member the rollout leaves on CurrentRelease()
  bool rollout_started_ = false;
  uint32_t versions_stepping_ = 0;  // the node in its version round
  uint32_t crash_after_fence_ = 0;  // the node the armed fault point asks to crash
  std::string final_gated_request_;
  // Orchestrated upgrade seeds (sim_orchestrator.cc).
  std::optional<SimOrchestrator> orchestrator_;  // nullopt: crashed (or not started)
  SeededRng orch_rng_{0};
  int orchestrators_started_ = 0;
  size_t rollback_after_ = 0;     // roll back once this many nodes are DONE (0: never)
  int crashes_left_ = 0;          // orchestrator crashes still to come
  int64_t plan_created_at_ = -1;  // virtual time of the plan's creation
  int64_t paused_since_ = -1;     // the plan was seen PAUSED since then
  std::set<uint32_t> plan_out_;   // disabled by the plan, not yet ACTIVE again
  std::map<std::pair<bool, uint32_t>, int> plan_stops_;  // (rollback, node) -> stops
  bool upgrade_done_ = false;                            // the plan ended and the hold was released
  std::map<uint64_t, std::string> plan_writes_;          // revision -> plan an orchestrator wrote
  // Checker state.
  std::map<std::pair<uint32_t, uint64_t>, std::string> records_;  // (origin, seq) -> bytes
  VersionVector applied_at_convergence_;
};

}  // namespace coffer::sim
