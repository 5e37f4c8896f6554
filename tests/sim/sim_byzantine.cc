// The Byzantine relay (simulation.h): one node, while faults run, rewrites
// some of the record batches it sends (changed content, records forged for
// another origin signed with its own key or unsigned, a forged unsigned
// record in the middle of a chain, a reordered pair, a truncated chain), and
// the checker that no node applies what it made up and that only its records
// raise integrity alerts.
#include "storage/record_auth.h"
#include "tests/sim/sim_internal.h"

namespace coffer::sim {

std::string Simulation::Comparable(const pb::LogRecord& record) {
  pb::LogRecord comparable = record;
  if (comparable.has_object_created()) {
    comparable.mutable_object_created()->clear_material();
    comparable.mutable_object_created()->clear_sealed_material();
  }
  return storage::DeterministicBytes(comparable);
}

void Simulation::TamperBatch(uint32_t from, pb::ReplicationMessage& message) {
  auto* records = message.mutable_records()->mutable_records();
  if (records->empty() || byzantine_rng_.Uniform(100) >= 15) return;
  SimNode* self = Node(from);
  if (self == nullptr || !self->up()) return;
  int index = static_cast<int>(byzantine_rng_.Uniform(static_cast<uint64_t>(records->size())));
  uint64_t kind = byzantine_rng_.Uniform(6);
  // The record after `index` if it is of the same origin (the chain goes on
  // in this batch), else -1.
  const int next =
      index + 1 < records->size() && (*records)[index + 1].origin() == (*records)[index].origin()
          ? index + 1
          : -1;
  if (kind == 3 && next >= 0) {
    // A forged unsigned record in the middle of a chain: changed content,
    // no signature; the next record's prev_digest no longer matches.
    pb::LogRecord& r = (*records)[index];
    r.set_request_id(r.request_id() + "-byzantine-mid");
    r.clear_signature();
    byzantine_records_.insert(Comparable(r));
    ++result_.byzantine_records;
    Trace("byzantine-forge-mid", r.origin(), r.seq(), kind);
    return;
  }
  if (kind == 4 && next >= 0) {
    // A reordered pair: two genuine records of one origin swapped.
    records->SwapElements(index, next);
    ++result_.byzantine_records;
    Trace("byzantine-reorder", (*records)[index].origin(), (*records)[next].seq(), kind);
    return;
  }
  if (kind == 5) {
    // A truncated chain: the batch ends before the origin's signed record
    // (the rest of that origin's records here dropped, the last one kept
    // without its signature). Nothing forged: never admitted as it is.
    const uint32_t origin = (*records)[index].origin();
    for (int i = records->size() - 1; i > index; --i) {
      if ((*records)[i].origin() == origin) records->DeleteSubrange(i, 1);
    }
    (*records)[index].clear_signature();
    ++result_.byzantine_records;
    Trace("byzantine-truncate", origin, (*records)[index].seq(), kind);
    return;
  }
  if (kind >= 3) return;
  if (kind == 0) {
    // Changed content under the original signature, in place of the record.
    pb::LogRecord& r = (*records)[index];
    r.mutable_hlc()->set_wall_micros(r.hlc().wall_micros() + 1);
    r.set_request_id(r.request_id() + "-byzantine");
    byzantine_records_.insert(Comparable(r));
    ++result_.byzantine_records;
    Trace("byzantine-tamper", r.origin(), r.seq(), 0);
    return;
  }
  // A record of another origin at the next seq this node knows of, appended
  // (after that origin's genuine records in the batch): signed with this
  // node's own key, or not signed at all.
  std::vector<uint32_t> others;
  for (const auto& [id, node] : nodes_) {
    if (id != from) others.push_back(id);
  }
  if (others.empty()) return;
  uint32_t victim = others[byzantine_rng_.Uniform(others.size())];
  auto applied = self->store->Applied();
  pb::LogRecord forged = (*records)[index];
  forged.set_origin(victim);
  forged.set_seq(applied[victim] + 1);
  forged.set_request_id("byzantine-" + std::to_string(result_.byzantine_records));
  forged.clear_signature();
  if (kind == 1) (void)storage::SignRecord(*self->signer, &forged);
  byzantine_records_.insert(Comparable(forged));
  ++result_.byzantine_records;
  Trace("byzantine-forge", victim, forged.seq(), kind);
  *records->Add() = std::move(forged);
}

void Simulation::ObserveIntegrityAlert(uint32_t node, const replication::IntegrityAlert& alert) {
  ++result_.integrity_alerts;
  if (alert.from != byzantine_) {
    Violation("node " + std::to_string(node) +
              " raised an integrity alert about an honest node: " + alert.ToString());
  }
}

}  // namespace coffer::sim
