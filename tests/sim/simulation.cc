// The simulation's frame: topology, boot and crash, the network, group commit
// and the node-state and log GC steps as a node's tick runs them, the run
// loop. Clients, faults and checkers are in sim_workload.cc, sim_faults.cc
// and sim_checkers.cc.
#include "tests/sim/simulation.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/fault_point.h"
#include "replication/lifecycle_driver.h"
#include "tests/sim/sim_internal.h"

namespace coffer::sim {

void SimTransport::Send(uint32_t to, const pb::ReplicationMessage& message) {
  sim_->Send(from_, to, message);
}

void Simulation::Trace(std::string_view what, uint64_t a, uint64_t b, uint64_t c) {
  for (uint64_t v : {static_cast<uint64_t>(now_), a, b, c}) {
    trace_ ^= v;
    trace_ *= 1099511628211ULL;
  }
  for (char ch : what) {
    trace_ ^= static_cast<unsigned char>(ch);
    trace_ *= 1099511628211ULL;
  }
  if (debug_) {
    std::fprintf(stderr, "%9.3f %-16.*s %llu %llu %llu\n", static_cast<double>(now_) / kSecond,
                 static_cast<int>(what.size()), what.data(), static_cast<unsigned long long>(a),
                 static_cast<unsigned long long>(b), static_cast<unsigned long long>(c));
  }
}

void Simulation::BuildTopology() {
  int count = 3 + static_cast<int>(rng_.Uniform(3));  // 3, 4 or 5 nodes
  result_.nodes = count;
  // Pairs (1,2), (3,4); an odd last node is read-only.
  const int paired = count - count % 2;
  for (int i = 1; i <= count; ++i) {
    Member m;
    m.id = static_cast<uint32_t>(i);
    m.role = i <= paired ? Role::kReadWrite : Role::kReadOnly;
    m.peer = i <= paired ? static_cast<uint32_t>(i % 2 == 1 ? i + 1 : i - 1) : 0;
    topology_.push_back(m);
  }
  for (const auto& m : topology_) {
    auto node = std::make_unique<SimNode>();
    node->id = m.id;
    int64_t skew = static_cast<int64_t>(rng_.Uniform(2 * kMaxSkewMicros)) - kMaxSkewMicros;
    node->clock = std::make_unique<SimClock>(&now_, skew);
    node->transport = std::make_unique<SimTransport>(this, m.id);
    node->public_key = storage::FakePublicKey(m.id);
    nodes_[m.id] = std::move(node);
  }
  byzantine_rng_ = SeededRng(options_.seed * 2654435761ULL + 17);
  byzantine_ = static_cast<uint32_t>(1 + byzantine_rng_.Uniform(static_cast<uint64_t>(count)));
  // A third of the seeds have a maximum disable duration short enough for a
  // disabled node to expire during the run.
  short_window_ = rng_.Uniform(3) == 0 && !options_.upgrade;
  max_disable_seconds_ = short_window_ ? 2 + rng_.Uniform(2) : 3600;
}

// The cluster and its first members, as records of kGenesisOrigin that every
// first member holds from the start (in a real cluster: the first node's
// ClusterCreated and the controllers' NodeAdded records).
std::vector<pb::LogRecord> Simulation::GenesisRecords() const {
  std::vector<pb::LogRecord> records;
  auto next = [&]() -> pb::LogRecord& {
    pb::LogRecord& r = records.emplace_back();
    r.set_origin(kGenesisOrigin);
    r.set_seq(records.size());
    r.mutable_hlc()->set_wall_micros(kEpochMicros - kSecond);
    r.mutable_hlc()->set_logical(static_cast<uint32_t>(records.size()));
    r.set_request_id("genesis-" + std::to_string(records.size()));
    r.set_format(1);
    return r;
  };
  auto describe = [](const Member& m, pb::NodeAdded* n) {
    n->set_node_id(m.id);
    n->set_name("n" + std::to_string(m.id));
    n->set_role(m.role == Role::kReadOnly ? pb::NODE_READ_ONLY : pb::NODE_READ_WRITE);
    n->set_peer(m.peer);
    n->set_release_version(upgrade::CurrentRelease().versions.release.ToString());
    n->set_public_key(storage::FakePublicKey(m.id));
  };
  auto* created = next().mutable_cluster_created();
  created->set_cluster_id("5e5e5e5e-0000-4000-8000-000000000001");
  created->set_name("sim");
  created->set_cluster_version(upgrade::CurrentRelease().versions.release.MinorString());
  describe(topology_[0], created->mutable_first_node());
  for (size_t i = 1; i < topology_.size(); ++i) describe(topology_[i], next().mutable_node_added());
  next().mutable_cluster_setting_set()->set_max_disable_seconds(max_disable_seconds_);
  return records;
}

bool Simulation::OpenStore(SimNode& node) {
  node.rng = std::make_unique<SeededRng>(options_.seed * 1000003ULL + node.id * 7919ULL +
                                         node.incarnation);
  auto kv = storage::OpenMemKvStore(node.disk);
  if (!kv.ok()) {
    Violation("node " + std::to_string(node.id) + " cannot open its disk");
    return false;
  }
  storage::ObjectStoreOptions store_options;
  store_options.node_id = NodeId{node.id};
  store_options.confirm_names_on_apply = false;
  // The binary's record formats; the planted bug lets the store take any.
  store_options.max_record_format = options_.plant_store_reads_any_format
                                        ? storage::kNewestRecordFormat
                                        : node.profile->max_record_format;
  if (!node.signer) node.signer = storage::MakeFakeRecordSigner(node.public_key);
  store_options.signer = node.signer.get();
  auto store = storage::ObjectStore::Open(std::move(kv).value(), *node.root, *node.clock, *node.rng,
                                          store_options);
  if (!store.ok() && (node.disk_io_error || node.disk->free_bytes())) {
    // As a real node on a failing or full disk: it exits at start, and its
    // supervisor starts it again a little later (HealAll fixes every disk).
    Trace("boot-failed", node.id, static_cast<uint64_t>(store.status().code()), 0);
    if (BeforeEnd(now_ + 300 * kMs)) {
      At(now_ + 300 * kMs, [this, id = node.id] {
        if (SimNode* n = Node(id); n != nullptr && !n->up()) Boot(*n);
      });
    }
    return false;
  }
  if (!store.ok()) {
    Violation("node " + std::to_string(node.id) +
              " cannot reopen its store: " + store.status().ToString());
    return false;
  }
  node.store = std::move(store).value();
  if (node.id <= topology_.size() && !node.store->Applied().contains(kGenesisOrigin)) {
    for (const auto& record : GenesisRecords()) {
      auto applied = node.store->ApplyRemote(record, storage::Durability::kSync);
      if (!applied.ok()) {
        Violation("node " + std::to_string(node.id) +
                  " cannot apply the genesis records: " + applied.status().ToString());
        return false;
      }
    }
  }
  auto recomputed = node.store->RecomputeDigest();
  if (!recomputed.ok() || !(*recomputed == node.store->StateDigest())) {
    Violation("node " + std::to_string(node.id) + " reopened with a digest that does not match");
  }
  return true;
}

std::vector<pb::StoredNode> Simulation::MembersOf(const SimNode& node) const {
  auto members = node.store->Members();
  return members.ok() ? *members : std::vector<pb::StoredNode>{};
}

namespace {
std::string Fingerprint(const std::vector<Member>& members) {
  std::string out;
  for (const auto& m : members) {
    out += std::to_string(m.id) + "/" + std::to_string(static_cast<int>(m.role)) + "/" +
           std::to_string(m.peer) + "/" + std::to_string(static_cast<int>(m.state)) + ";";
  }
  return out;
}
}  // namespace

void Simulation::RefreshMembers(SimNode& node, bool force) {
  constexpr int64_t kRefreshMicros = 100 * kMs;  // node.cc's membership refresh
  if (!force && now_ - node.members_read_at < kRefreshMicros) return;
  node.members_read_at = now_;
  node.members = MembersOf(node);
  auto members = replication::CoreMembers(node.members);
  std::string fingerprint = Fingerprint(members);
  if (fingerprint == node.members_fingerprint) return;
  node.members_fingerprint = std::move(fingerprint);
  node.replicator->SetMembers(std::move(members));
}

void Simulation::Boot(SimNode& node) {
  if (node.deleted || node.held_stopped) return;
  if (!node.store && node.installed != nullptr) node.profile = node.installed;
  if (!node.store && !OpenStore(node)) return;
  node.members = MembersOf(node);
  node.members_read_at = now_;
  auto members = replication::CoreMembers(node.members);
  node.members_fingerprint = Fingerprint(members);
  node.replicator = std::make_unique<replication::Replicator>(
      *node.store, std::move(members), replication::CoreOptions{}, *node.transport, *node.clock);
  node.replicator->EnableGroupCommit();
  node.replicator->SetSignatureVerifier(node.verifier.get());
  node.replicator->SetIntegrityAlertObserver(
      [this, id = node.id](const replication::IntegrityAlert& a) { ObserveIntegrityAlert(id, a); });
  node.replicator->SetAppliedObserver(
      [this, id = node.id](const pb::LogRecord& record) { ObserveApplied(id, record); });
  node.last_applied = node.store->Applied();
  RaiseDurableFloor(node.id, node.last_applied);  // recovered from the disk
  node.lifecycle = replication::NodeLifecycle();
  node.gc = replication::LogGc();
  node.group_commit =
      replication::GroupCommit({.min_interval_micros = options_.group_commit_interval_micros});
  node.storage = replication::StorageGuard();
  node.version_round_at = now_;
  RefreshGate(node);  // as node.cc builds its gate before it serves
  catching_up_.erase(node.id);
  Trace("boot", node.id, node.incarnation, 0);
}

void Simulation::Crash(SimNode& node) {
  if (!node.up()) return;
  node.replicator.reset();  // pending client callbacks are never answered
  node.store.reset();
  (void)node.disk->Crash();
  ++node.incarnation;
  ++result_.crashes;
  catching_up_.erase(node.id);
  Trace("crash", node.id, node.incarnation, 0);
}

void Simulation::Stop(SimNode& node) {
  node.replicator.reset();
  node.store.reset();
  node.deleted = true;
  ++node.incarnation;
  catching_up_.erase(node.id);
  Trace("stop", node.id, 0, 0);
}

void Simulation::DumpNodes() {
  for (auto& [id, node] : nodes_) {
    std::fprintf(stderr, "node %u%s%s:", id, node->deleted ? " deleted" : "",
                 node->up() ? "" : " down");
    if (!node->up()) {
      std::fprintf(stderr, "\n");
      continue;
    }
    for (auto& [origin, seq] : node->store->Applied())
      std::fprintf(stderr, " %u:%llu", origin, static_cast<unsigned long long>(seq));
    std::fprintf(stderr, " | members");
    for (const auto& m : MembersOf(*node))
      std::fprintf(stderr, " %u=%s", m.node_id(), pb::NodeState_Name(m.state()).c_str());
    std::fprintf(stderr, " | apply errors %llu (%s)\n",
                 static_cast<unsigned long long>(node->replicator->apply_errors()),
                 node->replicator->last_apply_error().ToString().c_str());
  }
}

SimNode* Simulation::Node(uint32_t id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

void Simulation::Send(uint32_t from, uint32_t to, const pb::ReplicationMessage& message) {
  if (faulty_ && (blocked_.count({from, to}) || Chance() < drop_chance_)) {
    ++result_.messages_dropped;
    return;
  }
  int copies = faulty_ && Chance() < duplicate_chance_ ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    int64_t delay = 100 + static_cast<int64_t>(rng_.Uniform(static_cast<uint64_t>(max_delay_)));
    auto shared = std::make_shared<pb::ReplicationMessage>(message);
    if (faulty_ && from == byzantine_ && shared->has_records()) TamperBatch(from, *shared);
    At(now_ + delay, [this, from, to, shared] {
      SimNode* target = Node(to);
      if (target == nullptr || !target->up()) {
        ++result_.messages_dropped;
        return;
      }
      ++result_.messages_delivered;
      Trace(shared->has_records() ? "records" : "report", from, to,
            shared->has_records() ? static_cast<uint64_t>(shared->records().records_size()) : 0);
      if (shared->has_report()) ObserveReport(from, to, shared->report());
      target->replicator->Receive(from, *shared);
      ScheduleFlush(*target);  // retries released by the record's arrival
    });
  }
}

std::vector<uint32_t> Simulation::UpNodes() const {
  std::vector<uint32_t> up;
  for (auto& [id, node] : nodes_) {
    if (node->up()) up.push_back(id);
  }
  return up;
}

void Simulation::ScheduleFlush(SimNode& node) {
  if (node.group_commit.WritesArrived(now_)) StartSync(node);
}

void Simulation::StartSync(SimNode& node) {
  auto batch = node.replicator->TakeUnsynced();
  if (batch.empty()) return node.group_commit.NothingToSync();
  // The sync thread's fsync: the disk keeps what was written up to now; the
  // writes are sent and acknowledged when it returns, a little later.
  Status synced = replication::Replicator::SyncGroupCommit(*node.store);
  if (synced.ok()) RaiseDurableFloor(node.id, batch.applied);
  int64_t sync_time = 200 + static_cast<int64_t>(rng_.Uniform(2 * kMs));
  At(now_ + sync_time,
     [this, id = node.id, incarnation = node.incarnation, batch = std::move(batch), synced] {
       SimNode* n = Node(id);
       if (n == nullptr || !n->up() || n->incarnation != incarnation) return;  // crashed meanwhile
       n->replicator->Committed(batch, synced);
       auto next = n->group_commit.SyncDone(now_, synced.ok() && n->replicator->HasUnsynced());
       if (!next) return;
       if (*next <= now_) return StartSync(*n);
       At(*next, [this, id, incarnation] {
         SimNode* later = Node(id);
         if (later == nullptr || !later->up() || later->incarnation != incarnation) return;
         StartSync(*later);
       });
     });
}

void Simulation::StepNode(SimNode& node) {
  StepStorage(node);
  // A catching-up node decides ACTIVE from the membership as its store has
  // it now: a member added a moment ago must be replicated with too.
  const bool was_catching_up = node.lifecycle.catching_up();
  RefreshMembers(node, /*force=*/was_catching_up);
  if (!node.storage.writable()) return;  // as node.cc: both steps below write
  auto step = replication::StepLifecycle(
      node.lifecycle, replication::SelfState(node.members, node.id), *node.replicator, *node.rng);
  if (!was_catching_up && node.lifecycle.catching_up()) {
    catching_up_[node.id] = CatchUpWatch{.started = now_};
  } else if (!node.lifecycle.catching_up()) {
    catching_up_.erase(node.id);
  }
  if (step.ok() && *step) {
    Trace("state", node.id, static_cast<uint64_t>(**step), 0);
    if (**step == pb::NODE_ACTIVE) {
      CheckActiveStep(node);
      ++result_.activated;
      disabled_.erase(node.id);
      plan_out_.erase(node.id);
      catching_up_.erase(node.id);
    }
    RefreshMembers(node);
  }
  auto collected = replication::RunLogGc(node.gc, *node.store, *node.replicator, *node.clock);
  if (collected.ok() && *collected > 0) {
    result_.log_records_collected += *collected;
    Trace("gc", node.id, *collected, 0);
    CheckLogGc(node);
  }
  StepVersions(node);  // last: a fault point may crash the node there
}

SimResult Simulation::Run() {
  std::optional<fault::ScopedFaultPoint> planted;
  if (!options_.plant.empty()) planted.emplace(options_.plant, fault::Arming{});
  BuildTopology();
  result_.mixed_versions = options_.mixed_versions;
  result_.group_commit_interval_micros = options_.group_commit_interval_micros;
  result_.upgrade = options_.upgrade;
  if (options_.upgrade) {
    // The orchestrator starts 0.3-1.5 s in, while clients write and faults
    // run; it crashes up to three times.
    orch_rng_ = SeededRng(options_.seed * 6364136223846793005ULL + 11);
    crashes_left_ = static_cast<int>(orch_rng_.Uniform(4));
    At(300 * kMs + static_cast<int64_t>(orch_rng_.Uniform(1200 * kMs)),
       [this] { StartOrchestrator(); });
  }
  // Mixed-version seeds: nodes crash right after writing a fence (half the
  // fences), and the operator's rolling restart starts 0.5-2.5 s in; half
  // of them leave one of the first members on the older binary.
  std::optional<fault::ScopedFaultPoint> after_fence;
  if (options_.mixed_versions) {
    after_fence.emplace("upgrade.after_fence", fault::Arming{.action = fault::Action::kCallback,
                                                             .probability = 0.5,
                                                             .seed = options_.seed,
                                                             .callback = [this] {
                                                               crash_after_fence_ =
                                                                   versions_stepping_;
                                                               return true;
                                                             }});
    if (rng_.Uniform(2) == 0)
      left_behind_ = 1 + static_cast<uint32_t>(rng_.Uniform(topology_.size()));
    ++admin_steps_pending_;
    At(500 * kMs + static_cast<int64_t>(rng_.Uniform(2 * kSecond)), [this] {
      --admin_steps_pending_;
      RolloutStep();
    });
  }
  for (auto& [id, node] : nodes_) Boot(*node);
  faulty_ = options_.faults;
  const int64_t fault_end = options_.fault_seconds * kSecond;
  const int64_t settle_end = fault_end + options_.settle_seconds * kSecond;

  // Recurring events: ticks, client operations and faults until the heal.
  std::function<void()> tick = [&] {
    for (auto& [id, node] : nodes_) {
      if (!node->up()) continue;
      node->replicator->Tick();
      ScheduleFlush(*node);  // retries released by Tick
      StepNode(*node);
    }
    if (now_ % (250 * kMs) == 0) SampleStates();
    if (options_.upgrade) CheckUpgradeSafety();
    if (now_ + kTickMicros <= settle_end) At(now_ + kTickMicros, tick);
  };
  At(kTickMicros, tick);
  const int64_t op_interval = kSecond / std::max(1, options_.ops_per_second);
  std::function<void()> op = [&] {
    ClientOp();
    if (now_ + op_interval < fault_end) At(now_ + op_interval, op);
  };
  At(op_interval, op);
  // Declared here, not inside the `if`: queued copies refer to it by reference.
  std::function<void()> fault = [&] {
    Fault();
    int64_t next = now_ + 200 * kMs + static_cast<int64_t>(rng_.Uniform(600 * kMs));
    if (next < fault_end) At(next, fault);
  };
  if (options_.faults) At(300 * kMs, fault);
  std::function<void()> disk_fault = [&] {
    DiskFault();
    int64_t next = now_ + 400 * kMs + static_cast<int64_t>(disk_rng_.Uniform(1200 * kMs));
    if (next < fault_end) At(next, disk_fault);
  };
  if (options_.faults) At(500 * kMs, disk_fault);
  // Half of the seeds induct a read-only node while faults are going on.
  // (Not in upgrade seeds: a running plan refuses membership changes.)
  if (rng_.Uniform(2) == 0 && !options_.upgrade)
    At(kSecond + static_cast<int64_t>(rng_.Uniform(fault_end / 2)), [&] { Induct(std::nullopt); });
  At(fault_end, [&] { HealAll(); });
  std::function<void()> settle = [&] {
    SettleLifecycle();
    if (now_ + 200 * kMs < settle_end) At(now_ + 200 * kMs, settle);
  };
  At(fault_end + 100 * kMs, settle);

  // Once converged, the run goes on long enough for every node to hear every
  // other's report of it; then each runs a GC round and the retained log is
  // checked.
  const int64_t gc_after_convergence = 300 * kMs;
  std::optional<int64_t> stop_at;
  int64_t next_convergence_check = fault_end + 100 * kMs;
  while (!events_.empty()) {
    Event event = events_.top();
    events_.pop();
    now_ = event.time;
    event.action();
    if (stop_at) {
      if (now_ >= *stop_at) break;
      continue;
    }
    if (now_ >= next_convergence_check) {
      next_convergence_check = now_ + 100 * kMs;
      if (Converged()) {
        result_.converged_after_seconds = static_cast<double>(now_ - fault_end) / kSecond;
        for (auto& [id, node] : nodes_) {
          if (node->up()) applied_at_convergence_ = node->store->Applied();
        }
        stop_at = now_ + gc_after_convergence;
        OnConvergedVersions();
      }
    }
  }
  if (result_.converged_after_seconds < 0) {
    std::ostringstream digests;
    for (auto& [id, node] : nodes_) {
      if (node->deleted) continue;
      digests << " node" << id << "="
              << (node->up() ? node->store->StateDigest().Hex().substr(0, 8) : std::string("down"));
    }
    Violation("no convergence within " + std::to_string(options_.settle_seconds) +
              " s of healing:" + digests.str());
    if (debug_) DumpNodes();
  } else {
    for (auto& [id, node] : nodes_) {
      if (!node->up()) continue;
      replication::LogGc round;  // due at once
      auto collected = replication::RunLogGc(round, *node->store, *node->replicator, *node->clock);
      if (collected.ok()) result_.log_records_collected += *collected;
    }
    CheckRetainedLogBounded();
  }
  FinalChecks();
  FinalVersionChecks();
  if (options_.upgrade) FinalUpgradeChecks();
  CheckStorageResumed();
  for (auto& [id, node] : nodes_)
    result_.unsynced_writes_lost += node->disk->unsynced_writes_lost();
  result_.trace_hash = trace_;
  result_.ok = result_.violations.empty();
  return result_;
}

std::string SimResult::ReplayCommand() const {
  return std::string(mixed_versions ? "COFFER_SIM_MIXED=1 " : "") +
         (upgrade ? "COFFER_SIM_UPGRADE=1 " : "") +
         (group_commit_interval_micros != SimOptions{}.group_commit_interval_micros
              ? "COFFER_SIM_GROUP_COMMIT_US=" + std::to_string(group_commit_interval_micros) + " "
              : "") +
         "COFFER_SIM_SEED=" + std::to_string(seed) +
         " build/dev/tests/sim/sim_test --gtest_filter=Simulation.ReplaySeed";
}

std::string SimResult::Summary() const {
  std::ostringstream out;
  out << "seed " << seed << (ok ? " ok" : " FAILED") << ": " << nodes << " nodes, " << acked_writes
      << " acked, " << refused_writes << " refused, " << messages_delivered << " delivered, "
      << messages_dropped << " dropped, " << inducted << " inducted, " << retries_ahead_of_record
      << " retries ahead of their record, " << crashes << " crashes (" << unsynced_writes_lost
      << " unsynced batches lost), " << disables << " disabled (" << disables_refused
      << " refused), " << enables << " enabled (" << enables_refused_expired
      << " refused expired), " << activated << " went ACTIVE, " << force_deleted
      << " force-deleted, " << log_records_collected << " log records collected, " << disk_faults
      << " disk faults (" << storage_faults << " store faults, " << storage_resumes << " resumed), "
      << byzantine_records << " Byzantine records (" << integrity_alerts << " integrity alerts), "
      << upgraded << " upgraded (" << fence_crashes << " crashed after a fence), "
      << gated_let_through << " gated writes let through (" << gated_acked << " acknowledged), "
      << gated_refused << " refused"
      << (ended_on_next_version ? ", ended on the next version" : "");
  if (upgrade) {
    out << ", plan " << (plan_end.empty() ? "unfinished" : plan_end) << " after " << upgrade_seconds
        << " s (" << plan_actions << " actions, " << orchestrator_crashes
        << " orchestrator crashes, " << crashes_before_persist << " before a persist, " << takeovers
        << " takeovers, " << plan_pauses << " pauses)";
  }
  out << ", converged " << converged_after_seconds << " s after healing, trace " << std::hex
      << trace_hash;
  return out.str();
}

SimResult RunSimulation(const SimOptions& options) { return Simulation(options).Run(); }

}  // namespace coffer::sim
