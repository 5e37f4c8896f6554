// What must hold in every run (simulation.h lists the checkers): sampled
// while the run goes on, at steps that must be justified (a node going
// ACTIVE, a GC round), and after the faults heal.
#include "replication/lifecycle_driver.h"
#include "tests/sim/sim_internal.h"

namespace coffer::sim {

namespace {

uint64_t SeqOf(const VersionVector& v, uint32_t origin) {
  auto it = v.find(origin);
  return it == v.end() ? 0 : it->second;
}

}  // namespace

void Simulation::SampleStates() {
  for (auto& [id, node] : nodes_) {
    // A store in a storage fault may show writes whose sync failed, which a
    // crash before it resumes takes back: what it shows is not sampled.
    if (!node->up() || !node->storage.writable() || !node->store->StorageFault().ok()) continue;
    pb::LocateRequest all;
    all.set_limit(100000);
    auto objects = node->store->Locate(all);
    if (!objects.ok()) continue;
    for (const auto& o : *objects) {
      bool destroyed = o.state() == pb::DESTROYED || o.state() == pb::DESTROYED_COMPROMISED;
      bool compromised = o.state() == pb::COMPROMISED || o.state() == pb::DESTROYED_COMPROMISED;
      auto& seen = node->seen[o.uuid()];
      if (seen.first && !destroyed) {
        Violation("object " + o.uuid() + " left DESTROYED on " + NodeName(id));
      }
      if (seen.second && !compromised) {
        Violation("object " + o.uuid() + " lost COMPROMISED on " + NodeName(id));
      }
      seen.first |= destroyed;
      seen.second |= compromised;
    }
  }
  CheckExpiredNeverMerged();
}

// Converged: no operator step is pending, and every node that is still a
// member is up, ACTIVE, and has the same digest and applied vector.
bool Simulation::Converged() {
  if (admin_steps_pending_ > 0) return false;  // a force-delete or induction to come
  const SimNode* first = nullptr;
  for (auto& [id, node] : nodes_) {
    if (node->deleted) continue;
    if (!node->up() || !node->storage.writable()) return false;  // resumed, too
    if (first == nullptr) {
      first = node.get();
      for (const auto& m : MembersOf(*node)) {
        if (m.state() != pb::NODE_ACTIVE) return false;
      }
      continue;
    }
    if (!(node->store->StateDigest() == first->store->StateDigest()) ||
        node->store->Applied() != first->store->Applied()) {
      return false;
    }
  }
  // The cluster version's steps are done too (none pending on any node).
  return first != nullptr && UpgradeSettled() && VersionsQuiescent();
}

void Simulation::ObserveReport(uint32_t from, uint32_t to, const pb::Report& report) {
  if (auto it = catching_up_.find(to); it != catching_up_.end()) {
    CatchUpWatch& watch = it->second;
    if (report.sent_micros() >= watch.started && !watch.heard_from.contains(from)) {
      watch.heard_from[from] = replication::ToVector(report.applied());
    }
  }
  if (auto it = catching_up_.find(from); it != catching_up_.end()) {
    if (report.sent_micros() >= it->second.started) it->second.reached.insert(to);
  }
}

// Semantics 5: ENABLING (or PENDING) -> ACTIVE only when replication with
// every other enabled node works in both directions and it has caught up.
void Simulation::CheckActiveStep(SimNode& node) {
  auto it = catching_up_.find(node.id);
  if (it == catching_up_.end()) {
    return Violation(NodeName(node.id) + " went ACTIVE without a catch-up in this process");
  }
  const CatchUpWatch& watch = it->second;
  const VersionVector applied = node.store->Applied();
  for (const auto& m : MembersOf(node)) {
    uint32_t other = m.node_id();
    if (other == node.id || m.state() == pb::NODE_DISABLED) continue;
    auto heard = watch.heard_from.find(other);
    if (heard == watch.heard_from.end() || !watch.reached.contains(other)) {
      Violation(NodeName(node.id) + " went ACTIVE without two-way replication with " +
                NodeName(other) + " since its catch-up started");
    } else if (!replication::Covers(applied, heard->second)) {
      Violation(NodeName(node.id) + " went ACTIVE without what " + NodeName(other) + " had");
    }
  }
}

void Simulation::RaiseDurableFloor(uint32_t id, const replication::VersionVector& durable) {
  auto& floor = durable_floor_[id];
  for (const auto& [origin, seq] : durable) floor[origin] = std::max(floor[origin], seq);
}

// Semantics 5: a DISABLED node within its window keeps every record it
// lacks available: no node's GC drops one. "Within" allows for the skew of
// the collecting node's clock. "Lacks" is the truth, not a node's view: the
// DISABLED record's vector, or more if the node's disk is known to hold more
// (a collector that has not yet seen the DISABLED record counts the node by
// what it reported, which grows again once the node is ENABLING).
void Simulation::CheckLogGc(SimNode& node) {
  auto cluster = node.store->Cluster();
  if (!cluster.ok() || !*cluster) return;
  const VersionVector& collected = node.store->log_collected();
  for (const auto& m : replication::MemberRecords(MembersOf(node), **cluster)) {
    if (m.id == node.id || m.state != pb::NODE_DISABLED) continue;
    if (kEpochMicros + now_ + kMaxSkewMicros >= m.window_end_wall_micros) continue;
    const replication::VersionVector& durable = durable_floor_[m.id];
    for (const auto& [origin, through] : collected) {
      uint64_t has = std::max(SeqOf(m.disabled_applied, origin), SeqOf(durable, origin));
      if (origin == m.id || through <= has) continue;
      Violation(NodeName(node.id) + " collected origin " + std::to_string(origin) + " through " +
                std::to_string(through) + " while DISABLED " + NodeName(m.id) +
                " within its window had only " + std::to_string(has));
    }
  }
}

// Semantics 5: an EXPIRED node's stale data is never merged: no other node
// applies a record it made after it expired.
void Simulation::CheckExpiredNeverMerged() {
  for (const auto& [expired, own_seq] : expired_seq_) {
    for (auto& [id, node] : nodes_) {
      if (id == expired || !node->up()) continue;
      uint64_t has = SeqOf(node->store->Applied(), expired);
      if (has > own_seq) {
        Violation(NodeName(id) + " merged record " + std::to_string(expired) + ":" +
                  std::to_string(has) + " of EXPIRED " + NodeName(expired) + " (it had " +
                  std::to_string(own_seq) + " when it expired)");
      }
    }
  }
}

// After healing and a GC round (300 ms after convergence), each node retains
// at most what a counted member still lacks, plus what was written since
// convergence.
void Simulation::CheckRetainedLogBounded() {
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    const VersionVector applied = node->store->Applied();
    auto cluster = node->store->Cluster();
    std::vector<replication::MemberRecord> members;
    if (cluster.ok() && *cluster) members = replication::MemberRecords(MembersOf(*node), **cluster);
    for (const auto& [origin, seq] : applied) {
      auto retained = node->store->LogAfter(origin, 0);
      if (!retained.ok()) continue;
      uint64_t floor = seq;  // the least any counted member has of this origin
      for (const auto& m : members) {
        if (m.id == id) continue;
        if (m.state == pb::NODE_DISABLED) {
          if (!replication::Expired(m, node->clock->WallMicros())) {
            floor = std::min(floor, SeqOf(m.disabled_applied, origin));
          }
        } else if (SimNode* other = Node(m.id); other != nullptr && other->up()) {
          floor = std::min(floor, SeqOf(other->store->Applied(), origin));
        }
      }
      uint64_t bound = seq - floor + (seq - std::min(seq, SeqOf(applied_at_convergence_, origin)));
      if (retained->records > bound) {
        Violation(NodeName(id) + " retains " + std::to_string(retained->records) +
                  " log records of origin " + std::to_string(origin) + " after healing (bound " +
                  std::to_string(bound) + ")");
      }
    }
  }
}

void Simulation::ObserveApplied(uint32_t node_id, const pb::LogRecord& record) {
  SimNode& node = *nodes_[node_id];
  uint64_t& last = node.last_applied[record.origin()];
  if (record.seq() != last + 1) {
    Violation(NodeName(node_id) + " applied " + std::to_string(record.origin()) + ":" +
              std::to_string(record.seq()) + " after " + std::to_string(last));
  }
  last = record.seq();
  CheckRecordFormat(node, record, "applied");
  pb::LogRecord comparable = record;
  // A record is its signed form: relays may carry it with or without the
  // signature its origin put on it (storage/record_auth.h).
  comparable.clear_signature();
  if (comparable.has_object_created()) {
    comparable.mutable_object_created()->clear_material();
    comparable.mutable_object_created()->clear_stage();
  }
  std::string bytes = storage::DeterministicBytes(comparable);
  if (byzantine_records_.count(Comparable(record))) {
    Violation(NodeName(node_id) + " applied record " + std::to_string(record.origin()) + ":" +
              std::to_string(record.seq()) + ", which the Byzantine relay " +
              std::to_string(byzantine_) + " made up (a record its origin did not make)");
  }
  auto [it, first] = records_.try_emplace({record.origin(), record.seq()}, bytes);
  if (!first && it->second != bytes) {
    Violation("record " + std::to_string(record.origin()) + ":" + std::to_string(record.seq()) +
              " applied on " + NodeName(node_id) + " differs from the one applied elsewhere");
  }
}

void Simulation::FinalChecks() {
  SampleStates();
  SimNode* reference = nullptr;
  for (auto& [id, node] : nodes_) {
    if (node->up() && reference == nullptr) reference = node.get();
  }
  for (auto& [id, node] : nodes_) {
    if (!node->up()) continue;
    // No acknowledged write lost, and the same answer everywhere.
    for (const auto& acked : acked_) {
      auto found = node->store->FindRequest(acked.request_id);
      if (!found.ok() || !*found) {
        Violation("acknowledged " + acked.request_id + " missing on " + NodeName(id));
      } else if ((*found)->result.uuid() != acked.uuid) {
        Violation("request " + acked.request_id + " answers differently on " + NodeName(id));
      }
    }
    // Per-origin order in what the log retains: records first..n (an
    // inducted node: from its snapshot's position on; GC drops a prefix),
    // the same at each position everywhere.
    for (const auto& [origin, count] : node->store->Applied()) {
      auto start = node->log_starts_after.find(origin);
      uint64_t first = (start == node->log_starts_after.end() ? 0 : start->second) + 1;
      auto retained = node->store->LogAfter(origin, 0);
      if (retained.ok() && retained->records > 0) {
        first = std::max(first, count - retained->records + 1);
      } else if (retained.ok()) {
        continue;  // all collected
      }
      if (first > count) continue;
      auto records = node->store->ReadLog(origin, first, count + 1);
      auto expected = reference->store->ReadLog(origin, first, count + 1);
      if (!records.ok() || records->size() != count - first + 1) {
        Violation(NodeName(id) + " has a gap in origin " + std::to_string(origin));
        continue;
      }
      std::map<uint64_t, const pb::LogRecord*> by_seq;
      if (expected.ok()) {
        for (const auto& r : *expected) by_seq[r.seq()] = &r;
      }
      for (uint64_t i = 0; i < records->size(); ++i) {
        if ((*records)[i].seq() != first + i) {
          Violation(NodeName(id) + " origin " + std::to_string(origin) + " out of order at " +
                    std::to_string(first + i));
          break;
        }
        auto other = by_seq.find(first + i);
        if (other == by_seq.end()) continue;
        pb::LogRecord x = (*records)[i], y = *other->second;
        for (auto* r : {&x, &y}) {
          // A record is its signed form: a relay may strip the signature of
          // one vouched for by a later signed record (replication/README.md).
          r->clear_signature();
          if (r->has_object_created()) {
            r->mutable_object_created()->clear_material();
            r->mutable_object_created()->clear_stage();
          }
        }
        if (storage::DeterministicBytes(x) != storage::DeterministicBytes(y)) {
          Violation("record " + std::to_string(origin) + ":" + std::to_string(first + i) +
                    " differs between " + NodeName(id) + " and " + NodeName(reference->id));
          break;
        }
      }
    }
    auto recomputed = node->store->RecomputeDigest();
    if (!recomputed.ok() || !(*recomputed == node->store->StateDigest())) {
      Violation(NodeName(id) + " incremental digest drifted");
    }
    // UNAVAILABLE: a gap (or an I/O error); RESOURCE_EXHAUSTED: a full disk
    // (only if this node's disk failed writes).
    const Code apply_error = node->replicator->last_apply_error().code();
    if (node->replicator->apply_errors() > 0 && apply_error != Code::kUnavailable &&
        !(apply_error == Code::kResourceExhausted && node->disk->failed_writes() > 0)) {
      Violation(NodeName(id) + " apply error: " + node->replicator->last_apply_error().ToString());
    }
  }
}

}  // namespace coffer::sim
