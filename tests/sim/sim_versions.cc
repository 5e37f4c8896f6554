// Binaries and the cluster version in the simulation (issue 13): each node
// runs a BinaryProfile and performs the cluster version's steps as
// node/cluster/version_keeper.cc does (upgrade/version_driver.h); in
// mixed-version seeds the operator restarts nodes one at a time onto
// NextRelease(), and the checkers below hold throughout.
#include "common/fault_point.h"
#include "node/api/feature_gates.h"
#include "storage/record_auth.h"
#include "tests/sim/sim_internal.h"
#include "upgrade/version_driver.h"

namespace coffer::sim {

namespace {

constexpr int64_t kVersionRoundMicros = 100 * kMs;  // node.cc's membership refresh

// A feature the next release introduces: never active in a cluster of this
// release (this release's own features, key-rekey, are active from the start).
bool IntroducedByNextRelease(upgrade::Feature feature) {
  for (const auto& info : upgrade::NextRelease().registry) {
    if (info.feature == feature) {
      return info.introduced > upgrade::CurrentRelease().versions.max_cluster_version();
    }
  }
  return false;
}

}  // namespace

void Simulation::RefreshGate(SimNode& node) {
  auto view = upgrade::ReadVersionView(*node.store, node.profile->versions);
  if (!view.ok()) return;
  node.gate.emplace(upgrade::SnapshotGate(*view, node.profile->registry));
  const Release version = view->cluster_version.Minor();
  // (b) The cluster version a node has never falls, across its restarts.
  if (version < node.highest_version) {
    Violation(NodeName(node.id) + " cluster version fell from " +
              node.highest_version.MinorString() + " to " + version.MinorString() +
              " (incarnation " + std::to_string(node.incarnation) + ")");
  }
  node.highest_version = std::max(node.highest_version, version);
  // (d) Not above what every member runs: a member still on an older
  // binary keeps every node below the newer version.
  for (auto& [id, other] : nodes_) {
    if (other->deleted || other->profile->versions.release.Minor() >= version) continue;
    Violation(NodeName(node.id) + " is at cluster version " + version.MinorString() + " while " +
              NodeName(id) + " runs " + other->profile->versions.release.ToString());
    break;
  }
}

void Simulation::StepVersions(SimNode& node) {
  if (now_ - node.version_round_at < kVersionRoundMicros) return;
  node.version_round_at = now_;
  versions_stepping_ = node.id;
  auto step =
      upgrade::StepClusterVersion(*node.store, *node.replicator, node.profile->versions, *node.rng);
  versions_stepping_ = 0;
  if (crash_after_fence_ == node.id) {
    // The armed fault point fired right after this node's fence was
    // written: the process dies there, and the operator's supervisor
    // restarts it a little later.
    crash_after_fence_ = 0;
    ++result_.fence_crashes;
    Trace("crash-after-fence", node.id, 0, 0);
    Crash(node);
    const uint32_t id = node.id;
    At(now_ + 100 * kMs + static_cast<int64_t>(rng_.Uniform(500 * kMs)), [this, id] {
      if (!nodes_[id]->up()) Boot(*nodes_[id]);
    });
    return;
  }
  if (step.ok() && !step->empty()) {
    const uint64_t kind = step->record_release ? 1 : step->record_fence ? 2 : 3;
    Trace("version-step", node.id, kind, 0);
    ScheduleFlush(node);
  }
  RefreshGate(node);
}

Status Simulation::CheckGates(SimNode& node, const IssuedWrite& write) {
  if (!node.gate) RefreshGate(node);
  pb::Request request;
  *request.mutable_write() = write.op;
  // The planted bug: the node skips its gate check.
  Status gated =
      options_.plant_skip_gate ? Status::Ok() : node::CheckFeatureGates(request, *node.gate);
  const auto needed = node::FeatureNeededBy(request);
  if (!needed || !IntroducedByNextRelease(*needed)) return gated;
  if (gated.ok()) {
    ++result_.gated_let_through;  // acknowledged or not, as any write
  } else {
    ++result_.gated_refused;
    if (gated.code() != Code::kFeatureNotActive) {
      Violation("gated write " + write.request_id + " on " + NodeName(node.id) + " refused with " +
                gated.ToString());
    }
  }
  if (gated.ok() && !AllRunNext()) {
    Violation("gated write " + write.request_id + " let through on " + NodeName(node.id) +
              " while a member runs " + upgrade::CurrentRelease().versions.release.ToString());
  }
  return gated;
}

bool Simulation::AllRunNext() const {
  for (auto& [id, node] : nodes_) {
    if (!node->deleted && node->profile != &upgrade::NextRelease()) return false;
  }
  return true;
}

void Simulation::RolloutStep() {
  rollout_started_ = true;
  SimNode* pick = nullptr;
  for (auto& [id, node] : nodes_) {
    if (node->deleted || node->profile == &upgrade::NextRelease()) continue;
    if (left_behind_ == id) continue;
    pick = node.get();
    break;
  }
  if (pick == nullptr) return;  // done
  // Stop, swap the binary, start: a restart of the store on the new binary.
  ++result_.upgraded;
  Trace("upgrade", pick->id, 0, 0);
  if (pick->up()) {
    Crash(*pick);
    --result_.crashes;  // an operator's restart, not a fault
  }
  pick->profile = &upgrade::NextRelease();
  const uint32_t id = pick->id;
  At(now_ + 50 * kMs + static_cast<int64_t>(rng_.Uniform(200 * kMs)), [this, id] {
    if (!nodes_[id]->up()) Boot(*nodes_[id]);
  });
  ++admin_steps_pending_;
  At(now_ + 300 * kMs + static_cast<int64_t>(rng_.Uniform(600 * kMs)), [this] {
    --admin_steps_pending_;
    RolloutStep();
  });
}

void Simulation::CheckRecordFormat(const SimNode& node, const pb::LogRecord& record,
                                   std::string_view how) {
  // (a) A record is never newer than the binary that applies or writes it.
  const uint32_t format = std::max(record.format(), storage::RecordFormatOf(record));
  if (format <= node.profile->max_record_format) return;
  Violation(NodeName(node.id) + " " + std::string(how) + " a record newer than its binary reads: " +
            std::to_string(record.origin()) + ":" + std::to_string(record.seq()) + " of format " +
            std::to_string(format) + ", running " + node.profile->versions.release.ToString() +
            " (reads up to " + std::to_string(node.profile->max_record_format) + ")");
}

void Simulation::CheckOwnRecords(const SimNode& node, uint64_t own_before) {
  auto applied = node.store->Applied();
  auto it = applied.find(node.id);
  if (it == applied.end() || it->second <= own_before) return;
  auto records = node.store->ReadLog(node.id, own_before + 1, it->second + 1);
  if (!records.ok()) return;
  for (const auto& r : *records) {
    CheckRecordFormat(node, r, "wrote");
    // (d) A record of a gated feature is written only once every member
    // runs a binary that reads it.
    if (storage::RecordFormatOf(r) > upgrade::CurrentRelease().max_record_format && !AllRunNext()) {
      Violation(NodeName(node.id) + " wrote gated record " + std::to_string(r.origin()) + ":" +
                std::to_string(r.seq()) + " (format " + std::to_string(storage::RecordFormatOf(r)) +
                ") while a member runs " + upgrade::CurrentRelease().versions.release.ToString());
    }
  }
}

bool Simulation::VersionsQuiescent() {
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    auto view = upgrade::ReadVersionView(*node->store, node->profile->versions);
    if (!view.ok() || !upgrade::Decide(*view).empty()) return false;
  }
  return true;
}

void Simulation::OnConvergedVersions() {
  if (!AllRunNext()) return;
  // (c) Every member runs the next release and the run healed: every node
  // is at its version, every node's gate lets a gated write through, and
  // one sent to a read-write node is acknowledged by the end of the run.
  const Release next = upgrade::NextRelease().versions.release.Minor();
  IssuedWrite write;
  write.request_id = "final-gated-" + std::to_string(options_.seed);
  auto* c = write.op.mutable_create_key();
  c->set_name("final-gated");
  c->set_comment("written once every node runs the next release");
  pb::Request request;
  *request.mutable_write() = write.op;
  result_.ended_on_next_version = true;
  uint32_t writer = 0;
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    RefreshGate(*node);
    if (node->gate->cluster_version() < next) {
      result_.ended_on_next_version = false;
      Violation(NodeName(id) + " ended at cluster version " +
                node->gate->cluster_version().MinorString() + " with every member on " +
                upgrade::NextRelease().versions.release.ToString());
    }
    if (Status gated = node::CheckFeatureGates(request, *node->gate); !gated.ok()) {
      Violation(NodeName(id) + " refuses a gated write at the end: " + gated.ToString());
    }
    if (writer == 0 && node->replicator->core().mode() == replication::WriteMode::kReadWrite) {
      writer = id;
    }
  }
  // No read-write node: a pair lost its peer for good (force-deleted, the
  // replacement inducted read-only); nothing takes a critical write then.
  if (writer == 0) return;
  final_gated_request_ = write.request_id;
  Issue(writer, write, std::nullopt, /*retry=*/false);
}

void Simulation::FinalVersionChecks() {
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    // (a) on what each node's log holds now (its binary only ever rose).
    auto applied = node->store->Applied();
    for (const auto& [origin, seq] : applied) {
      auto retained = node->store->LogAfter(origin, 0);
      if (!retained.ok() || retained->records == 0) continue;
      auto records = node->store->ReadLog(origin, seq - retained->records + 1, seq + 1);
      if (!records.ok()) continue;
      for (const auto& r : *records) CheckRecordFormat(*node, r, "holds");
    }
  }
  if (final_gated_request_.empty()) return;
  for (const auto& acked : acked_) {
    if (acked.request_id == final_gated_request_) return;
  }
  Violation("the gated write " + final_gated_request_ +
            " was not acknowledged with every node on the next release");
}

}  // namespace coffer::sim
