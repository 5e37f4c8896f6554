#include "upgrade/orchestrator/plan_builder.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace coffer::upgrade {
namespace {

// Sort key within a group: fewer unreplicated records first, then the id.
bool FewerUnreplicated(const NodeObservation* a, const NodeObservation* b) {
  return std::tie(a->unreplicated, a->node_id) < std::tie(b->unreplicated, b->node_id);
}

}  // namespace

std::vector<uint32_t> UpgradeOrder(const ClusterObservation& observation) {
  std::vector<const NodeObservation*> read_only;
  // Pairs keyed by their lowest node id; a read-write node without a peer
  // is a group of its own.
  std::map<uint32_t, std::vector<const NodeObservation*>> pairs;
  for (const auto& n : observation.nodes) {
    if (n.role == pb::NODE_READ_ONLY) {
      read_only.push_back(&n);
    } else {
      uint32_t key = n.peer != 0 ? std::min(n.node_id, n.peer) : n.node_id;
      pairs[key].push_back(&n);
    }
  }
  std::vector<uint32_t> order;
  std::sort(read_only.begin(), read_only.end(), FewerUnreplicated);
  for (const auto* n : read_only) order.push_back(n->node_id);
  for (auto& [key, members] : pairs) {
    std::sort(members.begin(), members.end(), FewerUnreplicated);
    for (const auto* n : members) order.push_back(n->node_id);
  }
  return order;
}

StatusOr<Release> CurrentRelease(const ClusterObservation& observation) {
  std::optional<Release> lowest;
  for (const auto& n : observation.nodes) {
    for (const std::string* text : {&n.running_release, &n.recorded_release}) {
      auto r = Release::Parse(*text);
      if (r && (!lowest || *r < *lowest)) lowest = r;
    }
  }
  if (!lowest) return InvalidState("no member's release is known: is any member reachable?");
  return *lowest;
}

StatusOr<pb::UpgradePlan> MakePlan(const ClusterObservation& observation,
                                   const PlanRequest& request) {
  if (observation.nodes.empty()) return InvalidState("the cluster has no members to upgrade");
  COFFER_ASSIGN_OR_RETURN(Release from, CurrentRelease(observation));
  pb::UpgradePlan plan;
  plan.set_plan_id(request.plan_id);
  plan.set_revision(observation.plan ? observation.plan->revision() + 1 : 1);
  plan.set_owner(request.owner);
  plan.set_from_release(from.ToString());
  plan.set_to_release(request.target.ToString());
  plan.set_binary(request.binary);
  plan.set_state(pb::UPGRADE_RUNNING);
  plan.set_from_cluster_version(observation.cluster_version);
  plan.set_created_micros(observation.now_micros);
  plan.set_updated_micros(observation.now_micros);
  for (const auto& o : request.overrides) plan.add_overrides(o);
  for (uint32_t id : UpgradeOrder(observation)) {
    const NodeObservation* n = observation.Find(id);
    auto* node = plan.add_nodes();
    node->set_node_id(id);
    node->set_name(n->name);
    node->set_step(pb::STEP_PENDING);
  }
  return plan;
}

bool PlanRunning(const pb::UpgradePlan& plan) {
  return plan.state() == pb::UPGRADE_RUNNING || plan.state() == pb::UPGRADE_ROLLING_BACK;
}

std::string PlanStateName(pb::UpgradePlanState state) {
  std::string name = pb::UpgradePlanState_Name(state);
  return name.starts_with("UPGRADE_") ? name.substr(8) : name;
}

std::string StepName(pb::UpgradeStep step) {
  std::string name = pb::UpgradeStep_Name(step);
  return name.starts_with("STEP_") ? name.substr(5) : name;
}

}  // namespace coffer::upgrade
