#include "storage/membership.h"

#include <algorithm>

namespace coffer::storage {

int64_t MaxDisableMicros(const pb::StoredCluster& cluster) {
  uint64_t seconds = cluster.max_disable_seconds() == 0 ? kDefaultMaxDisableSeconds
                                                        : cluster.max_disable_seconds();
  return static_cast<int64_t>(seconds) * 1'000'000;
}

pb::NodeState StoredState(const pb::StoredNode& node) {
  return node.state() == pb::NODE_STATE_UNSPECIFIED ? pb::NODE_ACTIVE : node.state();
}

bool DisableExpired(const pb::StoredNode& node, const pb::StoredCluster& cluster,
                    int64_t now_micros) {
  return DisableTimeLeftMicros(node, cluster, now_micros) == 0;
}

int64_t DisableTimeLeftMicros(const pb::StoredNode& node, const pb::StoredCluster& cluster,
                              int64_t now_micros) {
  if (node.deleted() || StoredState(node) != pb::NODE_DISABLED) return -1;
  return std::max<int64_t>(0, node.disabled_at_micros() + MaxDisableMicros(cluster) - now_micros);
}

std::string_view NodeStateName(const pb::StoredNode& node, const pb::StoredCluster& cluster,
                               int64_t now_micros) {
  if (node.deleted()) return "DELETED";
  switch (StoredState(node)) {
    case pb::NODE_PENDING:
      return "PENDING";
    case pb::NODE_DISABLING:
      return "DISABLING";
    case pb::NODE_DISABLED:
      return DisableExpired(node, cluster, now_micros) ? "EXPIRED" : "DISABLED";
    case pb::NODE_ENABLING:
      return "ENABLING";
    default:
      return "ACTIVE";
  }
}

bool UpgradePlanActive(const pb::UpgradePlan& plan) {
  switch (plan.state()) {
    case pb::UPGRADE_RUNNING:
    case pb::UPGRADE_PAUSED:
    case pb::UPGRADE_DONE:
    case pb::UPGRADE_ROLLING_BACK:
      return true;
    default:
      return false;
  }
}

const pb::UpgradePlan* ActiveUpgradePlan(const pb::StoredCluster& cluster) {
  if (!cluster.has_upgrade_plan() || !UpgradePlanActive(cluster.upgrade_plan())) return nullptr;
  return &cluster.upgrade_plan();
}

Status RefuseDuringUpgrade(const pb::StoredCluster& cluster, std::string_view what) {
  const pb::UpgradePlan* plan = ActiveUpgradePlan(cluster);
  if (plan == nullptr) return Status::Ok();
  std::string state = pb::UpgradePlanState_Name(plan->state());
  if (state.starts_with("UPGRADE_")) state = state.substr(8);
  return Status(
      Code::kUpgradeInProgress,
      std::string(what) + " is refused while upgrade plan " + plan->plan_id() + " (to " +
          plan->to_release() + ", " + state + ", orchestrator " + plan->owner() +
          ") runs: finish it (`coffer upgrade finalize`), roll it back or abort it first");
}

}  // namespace coffer::storage
