// Planning the cluster ops: cluster init, node add (fresh ids, one read-write
// peer per node), node state steps (semantics.md section 5), node delete and
// cluster settings.
#include <algorithm>
#include <string>

#include "common/fault_point.h"
#include "common/release.h"
#include "storage/keys.h"
#include "storage/membership.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {
namespace {

// The member `node_id`, or nullptr.
const pb::StoredNode* FindMember(const std::vector<pb::StoredNode>& members, uint32_t node_id) {
  const pb::StoredNode* found = nullptr;
  for (const auto& m : members) {
    if (m.node_id() == node_id) found = &m;
  }
  return found;
}

}  // namespace

StatusOr<pb::LogRecord> ObjectStore::PlanClusterInit(const pb::ClusterInitOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (cluster) {
    return AlreadyExists("this node already belongs to cluster '" + cluster->name() + "' (" +
                         cluster->cluster_id() + ")");
  }
  COFFER_RETURN_IF_ERROR(merge::ValidateSuppliedName(c.name(), "cluster"));
  COFFER_RETURN_IF_ERROR(merge::ValidateSuppliedName(c.node_name(), "node"));
  pb::LogRecord record;
  auto* b = record.mutable_cluster_created();
  b->set_cluster_id(Uuid::Generate(rng_).str());
  b->set_name(c.name());
  if (auto release = Release::Parse(c.release_version())) {
    b->set_cluster_version(release->MinorString());
  }
  auto* first = b->mutable_first_node();
  first->set_node_id(options_.node_id.value);
  first->set_name(c.node_name());
  first->set_role(pb::NODE_READ_WRITE);
  first->set_subgroup(c.subgroup());
  first->set_peer_address(c.peer_address());
  first->set_client_address(c.client_address());
  first->set_release_version(c.release_version());
  if (options_.signer != nullptr) first->set_public_key(options_.signer->PublicKey());
  record.mutable_result()->set_uuid(b->cluster_id());
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanNodeAdd(const pb::NodeAddOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) {
    return InvalidState("this node is standalone: run `coffer cluster init` before adding nodes");
  }
  if (c.role() != pb::NODE_READ_WRITE && c.role() != pb::NODE_READ_ONLY) {
    return InvalidArgument("a new node's role must be read-write or read-only");
  }
  COFFER_RETURN_IF_ERROR(RefuseDuringUpgrade(*cluster, "adding a node"));
  COFFER_RETURN_IF_ERROR(CheckFreeName(pb::ENTITY_NODE, c.name(), "node"));
  COFFER_ASSIGN_OR_RETURN(auto members, Members());
  // Ids are never reused: above every member (deleted ones too) and every
  // origin seen here.
  uint32_t highest = options_.node_id.value;
  COFFER_RETURN_IF_ERROR(
      ForEachRow<pb::StoredNode>(*kv_, keys::kNodePrefix, [&](auto, const pb::StoredNode& n) {
        highest = std::max(highest, n.node_id());
        return true;
      }));
  const pb::StoredNode* self = FindMember(members, options_.node_id.value);
  for (const auto& [origin, seq] : applied_) highest = std::max(highest, origin);
  if (self == nullptr) return InvalidState("this node is not a member of its cluster");
  pb::LogRecord record;
  auto* b = record.mutable_node_added();
  b->set_node_id(highest + 1);
  b->set_name(c.name());
  b->set_role(c.role());
  b->set_state(pb::NODE_PENDING);
  if (c.role() == pb::NODE_READ_WRITE) {
    // The pairing induction: the candidate becomes this node's peer.
    if (self->peer() != 0) {
      return InvalidState("node " + self->name().name() + " already has read-write peer " +
                          std::to_string(self->peer()) +
                          "; induct the candidate as read-only, or through a node without a "
                          "peer");
    }
    b->set_peer(options_.node_id.value);
  }
  b->set_subgroup(c.subgroup());
  b->set_peer_address(c.peer_address());
  b->set_client_address(c.client_address());
  b->set_release_version(c.release_version());
  b->set_public_key(c.public_key());
  record.mutable_result()->set_uuid(std::to_string(b->node_id()));
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanNodeState(const pb::NodeStateOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: it has no node states");
  COFFER_ASSIGN_OR_RETURN(auto members, Members());
  const uint32_t self = options_.node_id.value;
  const int64_t now = clock_.WallMicros();
  const pb::StoredNode* target = FindMember(members, c.node_id());
  if (target == nullptr) {
    return NotFound("node " + std::to_string(c.node_id()) + " is not a member");
  }
  const std::string who =
      "node " + target->name().name() + " (" + std::to_string(c.node_id()) + ")";
  const pb::NodeState current = StoredState(*target);
  const std::string current_name(NodeStateName(*target, *cluster, now));
  auto must_be_self = [&](std::string_view step) -> Status {
    if (c.node_id() == self) return Status::Ok();
    return InvalidArgument(std::string(step) + " is issued on the node itself: run it on " + who);
  };
  pb::LogRecord record;
  auto* b = record.mutable_node_state_set();
  switch (c.state()) {
    case pb::NODE_DISABLING: {
      // While a plan runs only its orchestrator disables (one node at a time,
      // never both nodes of a pair).
      if (const pb::UpgradePlan* plan = ActiveUpgradePlan(*cluster);
          plan != nullptr && c.upgrade_plan_id() != plan->plan_id()) {
        return RefuseDuringUpgrade(*cluster, "disabling " + who);
      }
      if (current != pb::NODE_ACTIVE) {
        return InvalidState(who + " is " + current_name + "; only an ACTIVE node can be disabled");
      }
      int others_enabled = 0;
      for (const auto& m : members) {
        if (m.node_id() == c.node_id()) continue;
        pb::NodeState s = StoredState(m);
        // A DISABLING member is on its way out: it does not stay enabled.
        if (s != pb::NODE_DISABLED && s != pb::NODE_DISABLING) ++others_enabled;
        bool disabled = s == pb::NODE_DISABLING || s == pb::NODE_DISABLED || s == pb::NODE_ENABLING;
        if (disabled && !c.allow_multiple_disabled()) {
          return InvalidState("node " + m.name().name() + " is already " +
                              std::string(NodeStateName(m, *cluster, now)) +
                              "; only one node may be disabled at a time (override: "
                              "--allow-multiple)");
        }
      }
      if (others_enabled == 0) {
        return InvalidState(who +
                            " is the only enabled node (every other member is DISABLING or "
                            "DISABLED): there would be no node to hand its records to, to enable "
                            "the others back or to force-delete one whose window ran out");
      }
      break;
    }
    case pb::NODE_DISABLED:
      COFFER_RETURN_IF_ERROR(must_be_self("DISABLED"));
      if (current != pb::NODE_DISABLING) {
        return InvalidState(who + " is " + current_name + ", not DISABLING");
      }
      for (const auto& [origin, seq] : applied_) {
        (*b->mutable_applied()->mutable_applied())[origin] = seq;
      }
      break;
    case pb::NODE_ENABLING:
      COFFER_RETURN_IF_ERROR(must_be_self("enable"));
      if (current != pb::NODE_DISABLED) {
        return InvalidState(who + " is " + current_name + "; only a DISABLED node can be enabled");
      }
      // Planted bug storage.enable_expired_node: an EXPIRED node enabled (its
      // stale records merged); the simulation's checkers must catch it.
      if (DisableExpired(*target, *cluster, now) &&
          !COFFER_FAULT_POINT("storage.enable_expired_node")) {
        return Status(Code::kDisableExpired,
                      who + " was disabled longer than the maximum disable duration (" +
                          std::to_string(MaxDisableMicros(*cluster) / 1'000'000) +
                          " s): its data is never merged again. Force-delete it on another node, "
                          "wipe its data directory and induct it as a new node");
      }
      break;
    case pb::NODE_ACTIVE:
      COFFER_RETURN_IF_ERROR(must_be_self("ACTIVE"));
      if (current != pb::NODE_ENABLING && current != pb::NODE_PENDING) {
        return InvalidState(who + " is " + current_name +
                            "; only PENDING or ENABLING become ACTIVE");
      }
      break;
    default:
      return InvalidArgument("a node can be set to DISABLING, DISABLED, ENABLING or ACTIVE");
  }
  b->set_node_id(c.node_id());
  b->set_state(c.state());
  record.mutable_result()->set_uuid(std::to_string(c.node_id()));
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanNodeDelete(const pb::NodeDeleteOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: it has no members to delete");
  COFFER_ASSIGN_OR_RETURN(auto members, Members());
  const pb::StoredNode* target = FindMember(members, c.node_id());
  if (target == nullptr) {
    return NotFound("node " + std::to_string(c.node_id()) +
                    " is not a member (or already deleted)");
  }
  const std::string who =
      "node " + target->name().name() + " (" + std::to_string(c.node_id()) + ")";
  if (c.node_id() == options_.node_id.value) {
    return InvalidArgument("a node cannot delete itself: run the delete on another node");
  }
  COFFER_RETURN_IF_ERROR(RefuseDuringUpgrade(*cluster, "deleting " + who));
  const int64_t now = clock_.WallMicros();
  if (!c.force() &&
      (StoredState(*target) != pb::NODE_DISABLED || DisableExpired(*target, *cluster, now))) {
    return InvalidState(who + " is " + std::string(NodeStateName(*target, *cluster, now)) +
                        ": delete removes a DISABLED node; force-delete removes any other node "
                        "(dead, unreachable or EXPIRED; records only it holds are lost)");
  }
  pb::LogRecord record;
  record.mutable_node_deleted()->set_node_id(c.node_id());
  record.mutable_result()->set_uuid(std::to_string(c.node_id()));
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanClusterSet(const pb::ClusterSetOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: there are no cluster settings");
  constexpr uint64_t kMaxSeconds = 365ULL * 24 * 3600;
  if (c.max_disable_seconds() == 0 && c.version_hold() == pb::VERSION_HOLD_UNCHANGED) {
    return InvalidArgument("cluster set changes nothing: give a setting");
  }
  if (c.max_disable_seconds() > kMaxSeconds) {
    return InvalidArgument("the maximum disable duration must be 1 s to 365 days");
  }
  if (!pb::VersionHold_IsValid(c.version_hold())) {
    return InvalidArgument("unknown cluster version hold change");
  }
  // The plan's hold keeps every node writing formats the old release reads
  // until finalize (the rollback window).
  if (c.version_hold() == pb::VERSION_HOLD_RELEASE) {
    COFFER_RETURN_IF_ERROR(RefuseDuringUpgrade(*cluster, "releasing the cluster version"));
  }
  pb::LogRecord record;
  auto* b = record.mutable_cluster_setting_set();
  b->set_max_disable_seconds(c.max_disable_seconds());
  b->set_version_hold(c.version_hold());
  record.mutable_result()->set_uuid(cluster->cluster_id());
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanNodeVersion(const pb::NodeVersionOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: it has no membership row");
  if (c.node_id() != options_.node_id.value) {
    return InvalidArgument("a node records only its own release and fence");
  }
  if (c.release().empty() && c.fence().empty()) {
    return InvalidArgument("a node version record needs a release or a fence");
  }
  if (!c.release().empty() && !Release::Parse(c.release())) {
    return InvalidArgument("'" + c.release() + "' is not a release (major.minor.patch)");
  }
  if (!c.fence().empty() && !Release::Parse(c.fence())) {
    return InvalidArgument("'" + c.fence() + "' is not a cluster version (major.minor)");
  }
  pb::LogRecord record;
  auto* b = record.mutable_node_version_set();
  b->set_node_id(c.node_id());
  b->set_release(c.release());
  b->set_fence(c.fence());
  record.mutable_result()->set_uuid(std::to_string(c.node_id()));
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanClusterVersion(const pb::ClusterVersionOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: it has no cluster version");
  auto version = Release::Parse(c.version());
  if (!version || version->patch != 0) {
    return InvalidArgument("'" + c.version() + "' is not a cluster version (major.minor)");
  }
  pb::LogRecord record;
  record.mutable_cluster_version_set()->set_version(version->MinorString());
  record.mutable_result()->set_uuid(cluster->cluster_id());
  return record;
}

StatusOr<pb::LogRecord> ObjectStore::PlanUpgradePlan(const pb::UpgradePlanOp& c) {
  COFFER_ASSIGN_OR_RETURN(auto cluster, Cluster());
  if (!cluster) return InvalidState("this node is standalone: there is nothing to upgrade");
  const pb::UpgradePlan& plan = c.plan();
  const uint64_t have = cluster->has_upgrade_plan() ? cluster->upgrade_plan().revision() : 0;
  if (have > c.expected_revision()) {
    const pb::UpgradePlan& current = cluster->upgrade_plan();
    return Status(Code::kUpgradeInProgress,
                  "upgrade plan " + current.plan_id() + " is at revision " + std::to_string(have) +
                      " (orchestrator " + current.owner() + "), not " +
                      std::to_string(c.expected_revision()) + ": read it again");
  }
  if (have < c.expected_revision()) {
    return Unavailable("this node has upgrade plan revision " + std::to_string(have) +
                       ", not yet " + std::to_string(c.expected_revision()) +
                       ": retry once it has caught up (or ask another node)");
  }
  if (plan.revision() != have + 1) {
    return InvalidArgument("an upgrade plan write must carry revision " + std::to_string(have + 1));
  }
  if (plan.plan_id().empty() || plan.plan_id().size() > limits::kMaxUuidBytes) {
    return InvalidArgument("an upgrade plan needs an id of 1 to " +
                           std::to_string(limits::kMaxUuidBytes) + " bytes");
  }
  if (!Release::Parse(plan.to_release()) || !Release::Parse(plan.from_release())) {
    return InvalidArgument("an upgrade plan names its releases as major.minor.patch");
  }
  if (!pb::UpgradePlanState_IsValid(plan.state()) ||
      plan.state() == pb::UPGRADE_STATE_UNSPECIFIED) {
    return InvalidArgument("an upgrade plan needs a known state");
  }
  if (plan.ByteSizeLong() > limits::kMaxUpgradePlanBytes) {
    return InvalidArgument("an upgrade plan is limited to " +
                           std::to_string(limits::kMaxUpgradePlanBytes) + " bytes");
  }
  pb::LogRecord record;
  *record.mutable_upgrade_plan_set()->mutable_plan() = plan;
  record.mutable_result()->set_uuid(plan.plan_id());
  return record;
}

}  // namespace coffer::storage
