#include "replication/lifecycle_driver.h"

#include "common/ids.h"
#include "storage/membership.h"

namespace coffer::replication {

std::vector<Member> CoreMembers(const std::vector<pb::StoredNode>& nodes) {
  std::vector<Member> members;
  for (const auto& n : nodes) {
    if (n.deleted()) continue;
    members.push_back(
        Member{.id = n.node_id(),
               .role = n.role() == pb::NODE_READ_ONLY ? Role::kReadOnly : Role::kReadWrite,
               .peer = n.peer(),
               .state = ProtocolState(storage::StoredState(n))});
  }
  return members;
}

std::vector<MemberRecord> MemberRecords(const std::vector<pb::StoredNode>& nodes,
                                        const pb::StoredCluster& cluster) {
  std::vector<MemberRecord> records;
  for (const auto& n : nodes) {
    if (n.deleted()) continue;
    MemberRecord r{.id = n.node_id(), .state = storage::StoredState(n)};
    if (r.state == pb::NODE_DISABLED) {
      r.window_end_wall_micros = n.disabled_at_micros() + storage::MaxDisableMicros(cluster);
      r.disabled_applied = ToVector(n.disabled_applied());
    }
    records.push_back(std::move(r));
  }
  return records;
}

pb::NodeState SelfState(const std::vector<pb::StoredNode>& nodes, uint32_t self) {
  for (const auto& n : nodes) {
    if (n.node_id() == self) return storage::StoredState(n);
  }
  return pb::NODE_ACTIVE;
}

StatusOr<std::optional<pb::NodeState>> StepLifecycle(NodeLifecycle& lifecycle,
                                                     pb::NodeState self_state,
                                                     Replicator& replicator, Rng& rng) {
  LifecycleStep step = lifecycle.Decide(self_state, replicator.core());
  if (step.start_catch_up) replicator.StartCatchUp();
  if (!step.next) return std::optional<pb::NodeState>();
  pb::Op op;
  op.mutable_node_state()->set_node_id(replicator.core().self());
  op.mutable_node_state()->set_state(*step.next);
  COFFER_RETURN_IF_ERROR(
      replicator.WriteUnpaired(op, "lifecycle-" + Uuid::Generate(rng).str()).status());
  return step.next;
}

StatusOr<uint64_t> RunLogGc(LogGc& gc, storage::ObjectStore& store, const Replicator& replicator,
                            const Clock& clock) {
  if (!gc.Due(clock.MonotonicMicros())) return uint64_t{0};
  COFFER_ASSIGN_OR_RETURN(auto cluster, store.Cluster());
  if (!cluster) return uint64_t{0};
  COFFER_ASSIGN_OR_RETURN(auto nodes, store.Members());
  auto through =
      gc.CollectibleThrough(store.node_id().value, store.Applied(), MemberRecords(nodes, *cluster),
                            replicator.core(), clock.WallMicros());
  if (!through) return uint64_t{0};
  uint64_t deleted = 0;
  for (const auto& [origin, seq] : *through) {
    COFFER_ASSIGN_OR_RETURN(uint64_t n,
                            store.CollectLog(origin, seq, gc.options().max_records_per_round));
    deleted += n;
  }
  return deleted;
}

}  // namespace coffer::replication
