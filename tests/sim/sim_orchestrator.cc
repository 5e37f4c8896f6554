// The rolling-upgrade orchestrator in the simulation (upgrade seeds,
// SimOptions::upgrade): the sans-IO core of upgrade/orchestrator/ driven as
// node/orchestrator/ drives it against real processes. The driver observes
// the simulated nodes (membership and the plan as a live node's store has
// them, each node's own status, the controller's view: process up, binary
// installed), asks upgrade::Stepper for one decision, performs it on the
// simulated node (a write through a node's replicator, a clean stop, a
// binary swap, a start) and persists the plan's next revision with the
// plan's compare-and-set. Before the plan it holds the cluster version and
// runs the pre-checks; at the end it finalizes and releases the hold (or,
// in a quarter of the seeds, rolls back part way and releases it after
// ROLLED_BACK).
//
// The orchestrator crashes at seeded moments, sometimes between an action
// and its persist; a new orchestrator with another owner starts a little
// later, reads the plan from a node's store and takes it over once the
// dead one's lease ran out (simulated time). A plan PAUSED by a timeout is
// resumed by the operator a second later.
//
// Checkers: every tick, no read-write pair has both nodes out by the plan
// (disabled by it, or stopped by it), and when the plan disables a
// read-write node its peer is up and not out; read-only nodes are all
// upgraded before the first read-write node is disabled; no node is
// stopped twice by the plan (UpgradeNode.stops and the stops performed);
// at the end every node runs the plan's final release, the plan is
// FINALIZED (cluster version at the next release's minor on every node)
// or ROLLED_BACK (cluster version unchanged). No acknowledged write lost
// and convergence are the simulation's own checkers (sim_checkers.cc).
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "storage/membership.h"
#include "tests/sim/sim_internal.h"
#include "upgrade/orchestrator/control.h"
#include "upgrade/orchestrator/plan_builder.h"
#include "upgrade/orchestrator/prechecks.h"
#include "upgrade/version_driver.h"

namespace coffer::sim {

namespace {

constexpr int64_t kPollMicros = 100 * kMs;
constexpr const char* kCurrentBinary = "coffer";
constexpr const char* kNextBinary = "coffer-next";

// Timeouts short enough that waits during faults pause the plan now and
// then (the operator resumes it), and a lease a dead orchestrator's
// successor waits out within the run.
upgrade::StepOptions SimStepOptions() {
  upgrade::StepOptions o;
  o.wait_disabled_micros = 4 * kSecond;
  o.wait_started_micros = 3 * kSecond;
  o.wait_active_micros = 4 * kSecond;
  o.wait_canary_micros = 3 * kSecond;
  o.wait_release_micros = 3 * kSecond;
  o.wait_peer_micros = 4 * kSecond;
  o.lease_micros = 2 * kSecond;
  return o;
}

const char* BinaryName(const upgrade::BinaryProfile* profile) {
  return profile == &upgrade::NextRelease() ? kNextBinary : kCurrentBinary;
}

bool PlanRuns(const pb::UpgradePlan& plan) {
  return plan.state() == pb::UPGRADE_RUNNING || plan.state() == pb::UPGRADE_ROLLING_BACK;
}

}  // namespace

void Simulation::StartOrchestrator() {
  if (upgrade_done_ || !BeforeEnd(now_)) return;
  ++orchestrators_started_;
  orchestrator_.emplace(SimOrchestrator{
      .owner = "sim-orchestrator-" + std::to_string(orchestrators_started_),
      .stepper = upgrade::Stepper(SimStepOptions()),
      .plan = std::nullopt,
      .done = false,
  });
  Trace("orchestrator-start", static_cast<uint64_t>(orchestrators_started_), 0, 0);
  At(now_ + kPollMicros, [this] { OrchestratorPoll(); });
}

void Simulation::CrashOrchestrator(bool before_persist) {
  --crashes_left_;
  ++result_.orchestrator_crashes;
  if (before_persist) ++result_.crashes_before_persist;
  Trace("orchestrator-crash", before_persist ? 1 : 0, 0, 0);
  orchestrator_.reset();
  const int64_t delay = 200 * kMs + static_cast<int64_t>(orch_rng_.Uniform(1500 * kMs));
  At(now_ + delay, [this] { StartOrchestrator(); });
}

bool Simulation::AllMembersAnswer(const upgrade::ClusterObservation& o) {
  for (const auto& n : o.nodes) {
    SimNode* node = Node(n.node_id);
    if (node != nullptr && node->storage_ok()) continue;
    // A member the controller keeps stopped for the plan reported itself
    // DISABLED before the plan stopped it: its records, plan writes
    // included, are on the others (plan writes never go through a node
    // that is not ACTIVE), though its DISABLED record itself may not be
    // (the others may see it DISABLING until it starts again). Not one
    // that crashed: it may have been enabled, and written plan revisions,
    // before it did.
    if (node == nullptr || !node->held_stopped) return false;
  }
  return true;
}

std::optional<pb::UpgradePlan> Simulation::ReadStoredPlan() {
  std::optional<pb::UpgradePlan> best;
  for (uint32_t id : UpNodes()) {
    if (!nodes_[id]->storage_ok()) continue;
    auto cluster = nodes_[id]->store->Cluster();
    if (!cluster.ok() || !*cluster || !(*cluster)->has_upgrade_plan()) continue;
    const pb::UpgradePlan& plan = (*cluster)->upgrade_plan();
    if (!best || plan.revision() > best->revision()) best = plan;
  }
  return best;
}

std::optional<upgrade::ClusterObservation> Simulation::ObserveCluster() {
  // The answering node: the up node with the newest plan (then an ACTIVE
  // one, then the lowest id), with a working store.
  SimNode* observer = nullptr;
  std::tuple<uint64_t, bool> best{0, false};
  std::optional<pb::StoredCluster> cluster;
  for (uint32_t id : UpNodes()) {
    SimNode& node = *nodes_[id];
    if (!node.storage_ok()) continue;
    auto c = node.store->Cluster();
    if (!c.ok() || !*c) continue;
    auto self = SelfRecord(node);
    std::tuple<uint64_t, bool> key{(*c)->upgrade_plan().revision(),
                                   self && self->state == pb::NODE_ACTIVE};
    if (observer == nullptr || key > best) {
      observer = &node;
      best = key;
      cluster = **c;
    }
  }
  if (observer == nullptr) return std::nullopt;
  upgrade::ClusterObservation o;
  o.now_micros = kEpochMicros + now_;
  o.cluster_version = cluster->cluster_version();
  o.version_held = cluster->version_held();
  o.max_disable_seconds = cluster->max_disable_seconds();
  if (cluster->has_upgrade_plan()) o.plan = cluster->upgrade_plan();
  for (const auto& m : MembersOf(*observer)) {
    if (m.deleted()) continue;
    upgrade::NodeObservation n;
    n.node_id = m.node_id();
    n.name = m.name().name();
    n.role = m.role();
    n.peer = options_.plant_no_pair_peer ? 0 : m.peer();
    n.state = std::string(storage::NodeStateName(m, *cluster, observer->clock->WallMicros()));
    n.recorded_release = m.release_version();
    n.disk_free_bytes = 1LL << 40;
    n.cert_not_after = o.now_micros / 1'000'000 + 365 * 24 * 3600;
    n.target_binary_release = upgrade::NextRelease().versions.release.ToString();
    SimNode* node = Node(m.node_id());
    if (node != nullptr) {
      n.process_running = node->up();
      n.installed_binary = BinaryName(node->installed ? node->installed : node->profile);
    }
    if (node == nullptr || !node->up()) {
      n.reachable_error = "connection refused";
      o.nodes.push_back(std::move(n));
      continue;
    }
    n.reachable = true;
    n.running_release = node->profile->versions.release.ToString();
    if (auto own = node->store->Cluster(); own.ok() && *own) {
      n.plan_revision = (*own)->upgrade_plan().revision();
      // Its state as its own status reports it: the plan's disables and
      // enables go through the node itself, and its DISABLED and ACTIVE are
      // its own writes, so it knows them first. A lagging view can show a
      // node ACTIVE whose DISABLING was accepted, and an abort ending there
      // would leave it disabled.
      for (const auto& self : MembersOf(*node)) {
        if (self.node_id() == n.node_id) {
          n.state = std::string(storage::NodeStateName(self, **own, node->clock->WallMicros()));
        }
      }
    }
    for (const auto& [origin, seq] : node->store->Applied()) n.applied_total += seq;
    for (const auto& other : MembersOf(*observer)) {
      if (other.node_id() != n.node_id && blocked_.contains({other.node_id(), n.node_id})) {
        n.links_down.push_back(other.node_id());
      }
    }
    o.nodes.push_back(std::move(n));
  }
  return o;
}

StatusOr<pb::OpResult> Simulation::OrchestratorWrite(uint32_t via, const pb::Op& op,
                                                     std::string_view what) {
  SimNode* node = Node(via);
  if (node == nullptr || !node->up()) return Unavailable(NodeName(via) + " is down");
  auto written = node->replicator->WriteUnpaired(
      op, "orchestrator-" + std::string(what) + "-" + std::to_string(next_request_++));
  Trace("orchestrator-write", via, written.ok() ? 1 : 0, 0);
  if (written.ok()) RefreshMembers(*node);
  return written;
}

bool Simulation::PersistPlan(const pb::UpgradePlan& plan, uint32_t via) {
  SimOrchestrator& orch = *orchestrator_;
  const uint64_t expected = orch.plan ? orch.plan->revision() : 0;
  if (via == 0) {
    // Any ACTIVE node that has the revision the write expects. Never a node
    // the plan took out: a write through a DISABLED node is sent on only
    // once it is enabled again, and the plan stops it first, so no other
    // node would ever have the revision the next write expects.
    for (uint32_t id : UpNodes()) {
      auto cluster = nodes_[id]->store->Cluster();
      auto self = SelfRecord(*nodes_[id]);
      if (!nodes_[id]->storage_ok() || !cluster.ok() || !*cluster || !self ||
          self->state != pb::NODE_ACTIVE) {
        continue;
      }
      if ((*cluster)->upgrade_plan().revision() == expected) {
        via = id;
        break;
      }
    }
    if (via == 0) {
      // No ACTIVE node has our revision: a write we took for done that its
      // node lost (its sync failed, then it crashed), or one we took for
      // failed that went through. Once every member answers, read the plan
      // again.
      auto o = ObserveCluster();
      if (orch.plan && o && AllMembersAnswer(*o)) {
        auto stored = ReadStoredPlan();
        if (stored && stored->revision() != expected) orch.plan = stored;
      }
      return false;
    }
  }
  pb::Op op;
  op.mutable_upgrade_plan()->set_expected_revision(expected);
  *op.mutable_upgrade_plan()->mutable_plan() = plan;
  auto written = OrchestratorWrite(via, op, "plan");
  if (std::getenv("COFFER_SIM_DEBUG_ORCH") != nullptr) {
    std::fprintf(
        stderr, "%lld ms persist rev %llu via %u: %s\n", static_cast<long long>(now_ / kMs),
        static_cast<unsigned long long>(plan.revision()), via, written.status().ToString().c_str());
  }
  if (!written.ok()) {
    // Another revision than ours on that node (a write we thought failed,
    // or another orchestrator): read the plan again; its steps find what
    // was already done.
    if (written.status().code() == Code::kUpgradeInProgress) orch.plan = ReadStoredPlan();
    return false;
  }
  // Checker: the orchestrators' acknowledged plan writes form one line,
  // one plan per revision (a fork loses what one branch recorded).
  std::string bytes;
  (void)plan.SerializeToString(&bytes);
  auto [it, fresh] = plan_writes_.try_emplace(plan.revision(), bytes);
  if (!fresh && it->second != bytes) {
    Violation("the plan forked at revision " + std::to_string(plan.revision()) + " (" + orch.owner +
              " wrote another plan there)");
  }
  orch.plan = plan;
  return true;
}

void Simulation::StopForUpgrade(SimNode& node) {
  // A clean stop: the process syncs what it wrote, then exits (its pending
  // client answers are lost as at any stop).
  if (!node.up()) return;
  (void)replication::Replicator::SyncGroupCommit(*node.store);
  node.replicator.reset();
  node.store.reset();
  ++node.incarnation;
  node.held_stopped = true;
  catching_up_.erase(node.id);
  Trace("upgrade-stop", node.id, node.incarnation, 0);
}

bool Simulation::Perform(const upgrade::Decision& d) {
  const pb::UpgradePlan& plan = *orchestrator_->plan;
  const bool rollback = plan.state() == pb::UPGRADE_ROLLING_BACK;
  SimNode* node = Node(d.node_id);
  switch (d.action) {
    case upgrade::Action::kWait:
    case upgrade::Action::kPersist:
    case upgrade::Action::kFinished:
      return true;
    case upgrade::Action::kDisable: {
      if (node == nullptr) return false;
      pb::Op op;
      op.mutable_node_state()->set_node_id(d.node_id);
      op.mutable_node_state()->set_state(pb::NODE_DISABLING);
      op.mutable_node_state()->set_upgrade_plan_id(plan.plan_id());
      // Through the node itself, which knows its own state: through another
      // node whose view lags (the node's DISABLING, or its DISABLED, not
      // yet there) a second DISABLING is accepted, and its later stamp
      // wins over the node's own DISABLED everywhere but on the node: the
      // others wait for a DISABLED that never comes, and the DISABLED node
      // takes nothing more (the planted plant_disable_through_any_node).
      uint32_t via = node->up() && node->storage_ok() ? d.node_id : 0;
      if (options_.plant_disable_through_any_node) {
        for (uint32_t id : UpNodes()) {
          if (id == d.node_id || !nodes_[id]->storage_ok()) continue;
          via = id;
          break;
        }
      }
      if (via == 0 || !OrchestratorWrite(via, op, "disable").ok()) return false;
      // Checkers: the peer of a read-write node takes writes; read-only
      // nodes were all upgraded first.
      for (const auto& m : MembersOf(*nodes_[via])) {
        if (m.node_id() != d.node_id || m.role() != pb::NODE_READ_WRITE) continue;
        SimNode* peer = Node(m.peer());
        if (peer != nullptr &&
            (!peer->up() || peer->held_stopped || plan_out_.contains(m.peer()))) {
          Violation("the plan disabled " + NodeName(d.node_id) + " while its pair peer " +
                    NodeName(m.peer()) + " was down or out");
        }
        if (rollback) continue;
        for (const auto& other : MembersOf(*nodes_[via])) {
          SimNode* ro = Node(other.node_id());
          if (other.role() == pb::NODE_READ_ONLY && !other.deleted() && ro != nullptr &&
              (ro->profile != &upgrade::NextRelease() || plan_out_.contains(ro->id))) {
            Violation("the plan disabled read-write " + NodeName(d.node_id) + " before read-only " +
                      NodeName(ro->id) + " was upgraded");
          }
        }
      }
      plan_out_.insert(d.node_id);
      return true;
    }
    case upgrade::Action::kStop: {
      if (node == nullptr) return false;
      if (++plan_stops_[{rollback, d.node_id}] > 1) {
        Violation("the plan stopped " + NodeName(d.node_id) + " a second time" +
                  (rollback ? " (rollback)" : ""));
      }
      StopForUpgrade(*node);
      return true;
    }
    case upgrade::Action::kSwap:
      if (node == nullptr) return false;
      node->installed =
          d.binary == kNextBinary ? &upgrade::NextRelease() : &upgrade::CurrentRelease();
      Trace("upgrade-swap", d.node_id, d.binary == kNextBinary ? 1 : 0, 0);
      return true;
    case upgrade::Action::kStart:
      if (node == nullptr) return false;
      node->held_stopped = false;
      if (!node->up()) Boot(*node);
      return node->up();
    case upgrade::Action::kEnable: {
      if (node == nullptr || !node->up()) return false;
      pb::Op op;
      op.mutable_node_state()->set_node_id(d.node_id);
      op.mutable_node_state()->set_state(pb::NODE_ENABLING);
      return OrchestratorWrite(d.node_id, op, "enable").ok();
    }
  }
  return false;
}

void Simulation::OrchestratorPoll() {
  if (!orchestrator_) return;  // crashed: its successor polls
  if (!BeforeEnd(now_)) return;
  At(now_ + kPollMicros, [this] { OrchestratorPoll(); });
  SimOrchestrator& orch = *orchestrator_;
  if (orch.done) return;
  if (crashes_left_ > 0 && orch_rng_.Uniform(100) < 2) return CrashOrchestrator(false);
  const upgrade::StepOptions& options = orch.stepper.options();
  // Each iteration observes and performs one decision; pure persists go on
  // at once (bounded), an action lets virtual time pass first.
  for (int round = 0; round < 8; ++round) {
    auto o = ObserveCluster();
    if (!o) return;
    if (!orch.plan) {
      // A new orchestrator reads the plan, from every member: the plan's
      // compare-and-set is at the origin only, so a plan read from one
      // node that lags (the newest revision only on a member that is down)
      // and taken over there would fork it, losing what the newer
      // revisions recorded (a swap's old binary, a stop).
      if (options_.plant_takeover_from_one_node) {
        // The planted bug: the plan as the first node that answers has it.
        for (uint32_t id : UpNodes()) {
          auto c = nodes_[id]->store->Cluster();
          if (!nodes_[id]->storage_ok() || !c.ok() || !*c) continue;
          if ((*c)->has_upgrade_plan()) orch.plan = (*c)->upgrade_plan();
          break;
        }
      } else {
        if (!AllMembersAnswer(*o)) return;
        orch.plan = ReadStoredPlan();
      }
    }
    if (!orch.plan) {
      // No plan yet: hold the cluster version, run the pre-checks, make it.
      if (!o->version_held) {
        pb::Op hold;
        hold.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_HOLD);
        SimNode* any = nullptr;
        for (uint32_t id : UpNodes()) {
          if (any == nullptr && nodes_[id]->storage_ok()) any = nodes_[id].get();
        }
        if (any == nullptr || !OrchestratorWrite(any->id, hold, "hold").ok()) return;
        continue;
      }
      const Release target = upgrade::NextRelease().versions.release;
      if (Status valid = upgrade::ValidateOverrides({"backup"}); !valid.ok()) {
        return Violation("override backup: " + valid.ToString());
      }
      auto checks = upgrade::RunPrechecks(*o, target, {"backup"}, upgrade::PrecheckOptions{});
      if (!upgrade::PrecheckVerdict(checks).ok()) return;  // try again at the next poll
      upgrade::PlanRequest request{
          .plan_id = "plan-" + std::to_string(options_.seed),
          .owner = orch.owner,
          .target = target,
          .binary = kNextBinary,
          .overrides = {"backup"},
      };
      auto plan = upgrade::MakePlan(*o, request);
      if (!plan.ok()) return Violation("MakePlan: " + plan.status().ToString());
      for (const auto& c : checks) *plan->add_checks() = c;
      plan->set_lease_until_micros(o->now_micros + options.lease_micros);
      if (!PersistPlan(*plan, 0)) return;
      if (plan_created_at_ < 0) plan_created_at_ = now_;
      rollback_after_ = orch_rng_.Uniform(4) == 0
                            ? 1 + orch_rng_.Uniform(static_cast<uint64_t>(plan->nodes_size() - 1))
                            : 0;
      Trace("plan-created", static_cast<uint64_t>(plan->nodes_size()), rollback_after_, 0);
      // The operator pauses the plan in a sixth of the seeds, aborts it in
      // an eighth (not those that roll back), 0.2-6 s after it started.
      const int64_t request_at =
          now_ + 200 * kMs + static_cast<int64_t>(orch_rng_.Uniform(5800 * kMs));
      if (orch_rng_.Uniform(6) == 0) {
        At(request_at, [this] { OperatorRequest(/*abort=*/false, 20); });
      } else if (rollback_after_ == 0 && orch_rng_.Uniform(7) == 0) {
        At(request_at, [this] { OperatorRequest(/*abort=*/true, 20); });
      }
      continue;
    }
    pb::UpgradePlan plan = *orch.plan;
    // (A creating write reported failed may have gone through.)
    if (plan_created_at_ < 0) plan_created_at_ = now_;
    if (plan.state() == pb::UPGRADE_PAUSED) {
      // The operator resumes a paused plan a second after seeing it.
      if (paused_since_ < 0) {
        paused_since_ = now_;
        ++result_.plan_pauses;
        Trace("plan-paused", plan.pause().node_id(), static_cast<uint64_t>(plan.pause().step()), 0);
      }
      if (now_ - paused_since_ < kSecond) return;
      auto resumed = upgrade::TakeOver(plan, orch.owner, o->now_micros, options.lease_micros);
      if (!resumed.ok()) return Violation("resume: " + resumed.status().ToString());
      if (!PersistPlan(*resumed, 0)) return;
      paused_since_ = -1;
      continue;
    }
    if (PlanRuns(plan) && plan.owner() != orch.owner) {
      // Another orchestrator's plan (a dead one's): take it over once its
      // lease has run out.
      if (upgrade::LeaseHeldByOther(plan, orch.owner, o->now_micros)) return;
      auto taken = upgrade::TakeOver(plan, orch.owner, o->now_micros, options.lease_micros);
      if (!taken.ok()) return Violation("take over: " + taken.status().ToString());
      if (!PersistPlan(*taken, 0)) return;
      ++result_.takeovers;
      continue;
    }
    if (plan.state() == pb::UPGRADE_RUNNING && rollback_after_ > 0) {
      size_t done = 0;
      for (const auto& n : plan.nodes()) done += n.step() == pb::STEP_DONE ? 1 : 0;
      if (done >= rollback_after_) {
        auto back = upgrade::StartRollback(plan, orch.owner, o->now_micros, options.lease_micros);
        if (!back.ok()) return Violation("rollback: " + back.status().ToString());
        if (!PersistPlan(*back, 0)) return;
        Trace("rollback", done, 0, 0);
        continue;
      }
    }
    if (plan.state() == pb::UPGRADE_DONE) {
      auto final_plan = upgrade::Finalize(plan, *o);
      if (!final_plan.ok()) return;  // a member not yet seen on the target: later
      if (!PersistPlan(*final_plan, 0)) return;
      continue;
    }
    if (plan.state() == pb::UPGRADE_FINALIZED || plan.state() == pb::UPGRADE_ROLLED_BACK ||
        plan.state() == pb::UPGRADE_ABORTED) {
      if (o->version_held) {
        pb::Op release;
        release.mutable_cluster_set()->set_version_hold(pb::VERSION_HOLD_RELEASE);
        // Through a node that has the plan's end (it refuses the release
        // while it sees the plan running).
        uint32_t via = 0;
        for (uint32_t id : UpNodes()) {
          auto c = nodes_[id]->store->Cluster();
          if (via == 0 && nodes_[id]->storage_ok() && c.ok() && *c &&
              (*c)->upgrade_plan().revision() >= plan.revision()) {
            via = id;
          }
        }
        if (via == 0 || !OrchestratorWrite(via, release, "release").ok()) return;
      }
      orch.done = upgrade_done_ = true;
      result_.plan_end = upgrade::PlanStateName(plan.state());
      result_.upgrade_seconds = static_cast<double>(now_ - plan_created_at_) / kSecond;
      Trace("upgrade-done", static_cast<uint64_t>(plan.state()), 0, 0);
      return;
    }
    if (!PlanRuns(plan)) {
      return Violation("the plan is " + upgrade::PlanStateName(plan.state()) +
                       ", which the simulation never asks for");
    }
    upgrade::Decision d = orch.stepper.Next(plan, *o);
    if (std::getenv("COFFER_SIM_DEBUG_ORCH") != nullptr) {
      std::string steps;
      for (const auto& n : plan.nodes()) {
        steps += " " + std::to_string(n.node_id()) + ":" + upgrade::StepName(n.step()) + "/" +
                 n.old_binary();
      }
      std::fprintf(stderr, "%lld ms %s rev %llu [%s ]: %s node %u (%s)\n",
                   static_cast<long long>(now_ / kMs), orch.owner.c_str(),
                   static_cast<unsigned long long>(plan.revision()), steps.c_str(),
                   upgrade::ActionName(d.action), d.node_id, d.waiting_for.c_str());
    }
    if (d.action == upgrade::Action::kWait) return;
    Trace("decision", static_cast<uint64_t>(d.action), d.node_id, plan.revision());
    if (!Perform(d)) return;
    if (d.action != upgrade::Action::kPersist) ++result_.plan_actions;
    // Between an action and its persist.
    if (d.action != upgrade::Action::kPersist && crashes_left_ > 0 && orch_rng_.Uniform(100) < 15) {
      return CrashOrchestrator(true);
    }
    if (!d.persist) return;  // a start without a step change: observe again later
    if (!PersistPlan(*d.persist, d.persist_via)) return;
    if (d.action != upgrade::Action::kPersist) return;
    if (CrashAtStop(*d.persist)) return;
  }
}

bool Simulation::CrashAtStop(const pb::UpgradePlan& plan) {
  const bool rollback = plan.state() == pb::UPGRADE_ROLLING_BACK;
  const pb::UpgradeNode* current = nullptr;
  for (const auto& n : rollback ? plan.rollback() : plan.nodes()) {
    if (n.step() != pb::STEP_DONE) {
      current = &n;
      break;
    }
  }
  if (current == nullptr || !options_.faults) return false;
  SimNode* node = Node(current->node_id());
  if (node == nullptr) return false;
  if (current->step() == pb::STEP_STOP && node->up() && orch_rng_.Uniform(100) < 20) {
    // The node crashes just as the plan is about to stop it; its
    // supervisor restarts it 10-190 ms later (the installed binary).
    Crash(*node);
    const uint32_t id = node->id;
    At(now_ + 10 * kMs + static_cast<int64_t>(orch_rng_.Uniform(180 * kMs)), [this, id] {
      if (!nodes_[id]->up()) Boot(*nodes_[id]);
    });
    return true;  // the next decision after a poll interval
  }
  // STOP found the node stopped (crashed) without stopping it: the next
  // decision waits a poll interval, as a real orchestrator's observation
  // takes time, and the supervisor may restart it meanwhile.
  return current->step() == pb::STEP_SWAP && !node->up() && !node->held_stopped;
}

void Simulation::OperatorRequest(bool abort, int tries_left) {
  if (upgrade_done_ || tries_left == 0 || !BeforeEnd(now_ + kSecond)) return;
  auto retry = [&](int64_t after) {
    At(now_ + after, [this, abort, tries_left] { OperatorRequest(abort, tries_left - 1); });
  };
  auto stored = ReadStoredPlan();
  if (stored && (abort ? stored->abort_requested() || stored->state() == pb::UPGRADE_ABORTED
                       : stored->pause_requested() || stored->state() == pb::UPGRADE_PAUSED)) {
    return;  // it took effect (or another request did the same)
  }
  // `coffer upgrade pause|abort` through an ACTIVE node: the plan as that
  // node has it, written with its compare-and-set there. A request racing
  // the orchestrator's write of the same revision may be lost (the origin
  // check is per node): checked a second later and sent again.
  for (uint32_t id : UpNodes()) {
    SimNode& node = *nodes_[id];
    auto self = SelfRecord(node);
    auto cluster = node.store->Cluster();
    if (!node.storage_ok() || !self || self->state != pb::NODE_ACTIVE || !cluster.ok() ||
        !*cluster || !(*cluster)->has_upgrade_plan()) {
      continue;
    }
    const pb::UpgradePlan& plan = (*cluster)->upgrade_plan();
    auto request = abort ? upgrade::RequestAbort(plan, kEpochMicros + now_)
                         : upgrade::RequestPause(plan, kEpochMicros + now_);
    if (!request.ok()) {
      // Not running (yet, or any more): PAUSED only takes an abort; a
      // finished plan nothing.
      if (plan.state() == pb::UPGRADE_RUNNING || plan.state() == pb::UPGRADE_PAUSED ||
          plan.state() == pb::UPGRADE_ROLLING_BACK) {
        break;
      }
      return;
    }
    pb::Op op;
    op.mutable_upgrade_plan()->set_expected_revision(plan.revision());
    *op.mutable_upgrade_plan()->mutable_plan() = *request;
    auto written = OrchestratorWrite(id, op, abort ? "operator-abort" : "operator-pause");
    if (std::getenv("COFFER_SIM_DEBUG_ORCH") != nullptr) {
      std::fprintf(stderr, "%lld ms operator %s rev %llu via %u: %s\n",
                   static_cast<long long>(now_ / kMs), abort ? "abort" : "pause",
                   static_cast<unsigned long long>(request->revision()), id,
                   written.status().ToString().c_str());
    }
    if (written.ok()) {
      ++(abort ? result_.abort_requests : result_.pause_requests);
    }
    break;
  }
  retry(abort ? kSecond : 500 * kMs);
}

void Simulation::CheckUpgradeSafety() {
  auto out = [&](uint32_t id) {
    SimNode* n = Node(id);
    return n != nullptr && (n->held_stopped || plan_out_.contains(id));
  };
  for (const auto& m : topology_) {
    if (m.role != Role::kReadWrite || m.peer < m.id) continue;
    if (out(m.id) && out(m.peer)) {
      Violation("both nodes of pair " + std::to_string(m.id) + "/" + std::to_string(m.peer) +
                " out by the plan at " + std::to_string(now_ / kMs) + " ms");
    }
  }
}

bool Simulation::UpgradeSettled() const { return !options_.upgrade || upgrade_done_; }

void Simulation::FinalUpgradeChecks() {
  if (std::getenv("COFFER_SIM_DEBUG_ORCH") != nullptr) {
    for (auto& [id, node] : nodes_) {
      std::string line = "node " + std::to_string(id) + (node->up() ? " up" : " down");
      if (node->up()) {
        line += " release " + node->profile->versions.release.ToString() + " mode " +
                std::string(replication::WriteModeName(node->replicator->core().mode())) +
                " applied";
        for (const auto& [origin, seq] : node->store->Applied()) {
          line += " " + std::to_string(origin) + ":" + std::to_string(seq);
        }
        line += " states";
        for (const auto& m : MembersOf(*node)) {
          line += " " + std::to_string(m.node_id()) + "=" + std::to_string(m.state());
        }
      }
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  auto plan = ReadStoredPlan();
  if (!upgrade_done_ || !plan) {
    return Violation("the upgrade plan did not end (" +
                     (plan ? upgrade::PlanStateName(plan->state()) + ", pause " +
                                 plan->pause().check() + ": " + plan->pause().observed()
                           : std::string("no plan")) +
                     ")");
  }
  const bool rolled_back = plan->state() == pb::UPGRADE_ROLLED_BACK;
  // ABORTED: every node back, on either release; the version rises only
  // if every node happened to be on the new one.
  const bool aborted = plan->state() == pb::UPGRADE_ABORTED;
  const upgrade::BinaryProfile& end =
      rolled_back ? upgrade::CurrentRelease() : upgrade::NextRelease();
  const Release version = rolled_back || (aborted && !AllRunNext())
                              ? upgrade::CurrentRelease().versions.release.Minor()
                              : end.versions.release.Minor();
  for (const auto* list : {&plan->nodes(), &plan->rollback()}) {
    for (const auto& n : *list) {
      if (n.stops() > 1)
        Violation("plan stopped " + NodeName(n.node_id()) + " " + std::to_string(n.stops()) +
                  " times");
    }
  }
  for (auto& [id, node] : nodes_) {
    if (node->deleted) continue;
    if (node->profile != &end && !aborted) {
      Violation(NodeName(id) + " runs " + node->profile->versions.release.ToString() +
                " after the plan ended " + upgrade::PlanStateName(plan->state()));
    }
    if (!node->up()) continue;
    auto view = upgrade::ReadVersionView(*node->store, node->profile->versions);
    if (view.ok() && view->cluster_version.Minor() != version) {
      Violation(NodeName(id) + " is at cluster version " + view->cluster_version.MinorString() +
                ", expected " + version.MinorString() + " after " +
                upgrade::PlanStateName(plan->state()));
    }
    if (view.ok() && view->held) Violation(NodeName(id) + " still holds the cluster version");
  }
}

}  // namespace coffer::sim
