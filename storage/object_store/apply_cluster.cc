// Applying the records about the cluster and its members: the cluster row
// (earliest creation wins), node additions, node states (last writer wins),
// deletions and cluster settings. Records about a node that arrive before its
// addition go to a placeholder row that the addition fills in.
#include <string>

#include "common/release.h"
#include "storage/keys.h"
#include "storage/merge.h"
#include "storage/object_store.h"
#include "storage/object_store/internal.h"

namespace coffer::storage {
namespace {

// The cluster version never falls: the highest value applied wins, in any
// order. An unparsable value changes nothing (the records that carry one are
// refused before they get here).
void RaiseClusterVersion(pb::StoredCluster* cluster, const std::string& version) {
  auto incoming = Release::Parse(version);
  if (!incoming) return;
  auto current = Release::Parse(cluster->cluster_version());
  if (!current || *current < incoming->Minor())
    cluster->set_cluster_version(incoming->MinorString());
}

}  // namespace

Status ObjectStore::ApplyClusterCreated(Txn& txn, const pb::ClusterCreated& b,
                                        const pb::Stamp& stamp) {
  std::string key(keys::kClusterKey);
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredCluster>(txn.reader(), key));
  // One cluster per store: the earliest creation wins, whatever the order.
  // A row without a creation holds what came first (settings, the version).
  if (!old || !old->has_created_stamp() || merge::CompareStamps(stamp, old->created_stamp()) < 0) {
    pb::StoredCluster cluster = old.value_or(pb::StoredCluster());  // keeps the settings
    cluster.set_cluster_id(b.cluster_id());
    cluster.set_name(b.name());
    *cluster.mutable_created_stamp() = stamp;
    RaiseClusterVersion(&cluster, b.cluster_version());
    txn.PutEntity(key, old, cluster);
  }
  return ApplyNodeAdded(txn, b.first_node(), stamp);
}

Status ObjectStore::ApplyNodeAdded(Txn& txn, const pb::NodeAdded& b, const pb::Stamp& stamp) {
  if (b.node_id() == 0) return InvalidArgument("record adds node id 0");
  std::string key = keys::Node(b.node_id());
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredNode>(txn.reader(), key));
  // Node ids are unique; should two additions claim one id, the earlier keeps it.
  if (old && old->created() && merge::CompareStamps(old->created_stamp(), stamp) <= 0) {
    return Status::Ok();
  }
  // Records from other origins may have come first (the node's own state
  // changes, a deletion): the row keeps them.
  pb::StoredNode n = old.value_or(pb::StoredNode());
  if (!n.has_state_stamp()) {
    n.set_state(b.state() == pb::NODE_STATE_UNSPECIFIED ? pb::NODE_ACTIVE : b.state());
    *n.mutable_state_stamp() = stamp;
  }
  n.set_uuid(std::to_string(b.node_id()));
  n.set_created(true);
  *n.mutable_created_stamp() = stamp;
  n.mutable_name()->set_name(b.name());
  *n.mutable_name()->mutable_stamp() = stamp;
  n.set_node_id(b.node_id());
  n.set_role(b.role());
  n.set_peer(b.peer());
  n.set_subgroup(b.subgroup());
  n.set_peer_address(b.peer_address());
  n.set_client_address(b.client_address());
  // The node's own NodeVersionSet may have come first: the newer release wins.
  if (!n.has_release_stamp() || merge::CompareStamps(n.release_stamp(), stamp) < 0) {
    n.set_release_version(b.release_version());
    *n.mutable_release_stamp() = stamp;
  }
  n.set_public_key(b.public_key());
  txn.PutEntity(key, old, n);
  return Status::Ok();
}

// A node's row, or a placeholder for records that arrived before its NodeAdded.
StatusOr<pb::StoredNode> ObjectStore::NodeRowOrPlaceholder(Txn& txn, uint32_t node_id,
                                                           std::optional<pb::StoredNode>* old) {
  if (node_id == 0) return InvalidArgument("record names node id 0");
  COFFER_ASSIGN_OR_RETURN(*old, LoadMessage<pb::StoredNode>(txn.reader(), keys::Node(node_id)));
  if (*old) return **old;
  pb::StoredNode n;
  n.set_uuid(std::to_string(node_id));
  n.set_node_id(node_id);
  return n;
}

Status ObjectStore::ApplyNodeStateSet(Txn& txn, const pb::NodeStateSet& b, const pb::Stamp& stamp) {
  std::optional<pb::StoredNode> old;
  COFFER_ASSIGN_OR_RETURN(pb::StoredNode n, NodeRowOrPlaceholder(txn, b.node_id(), &old));
  // Last writer wins whether or not the node is deleted: skipping deleted
  // rows made the result depend on whether the deletion came first.
  if (n.has_state_stamp() && merge::CompareStamps(stamp, n.state_stamp()) <= 0) {
    return Status::Ok();  // an older state change: the newer one stays
  }
  n.set_state(b.state());
  *n.mutable_state_stamp() = stamp;
  if (b.state() == pb::NODE_DISABLED) {
    n.set_disabled_at_micros(stamp.hlc().wall_micros());
    *n.mutable_disabled_applied() = b.applied();
  }
  txn.PutEntity(keys::Node(b.node_id()), old, n);
  return Status::Ok();
}

Status ObjectStore::ApplyNodeDeleted(Txn& txn, const pb::NodeDeleted& b) {
  std::optional<pb::StoredNode> old;
  COFFER_ASSIGN_OR_RETURN(pb::StoredNode n, NodeRowOrPlaceholder(txn, b.node_id(), &old));
  if (n.deleted()) return Status::Ok();
  // The name is free again (a wiped node comes back as a new node): a deleted
  // node holds no name claim (NameClaimOf).
  n.set_deleted(true);
  txn.PutEntity(keys::Node(b.node_id()), old, n);
  return Status::Ok();
}

Status ObjectStore::ApplyClusterSettingSet(Txn& txn, const pb::ClusterSettingSet& b,
                                           const pb::Stamp& stamp) {
  std::string key(keys::kClusterKey);
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredCluster>(txn.reader(), key));
  pb::StoredCluster cluster = old.value_or(pb::StoredCluster());
  if (b.max_disable_seconds() != 0 &&
      (!cluster.has_max_disable_stamp() ||
       merge::CompareStamps(cluster.max_disable_stamp(), stamp) < 0)) {
    cluster.set_max_disable_seconds(b.max_disable_seconds());
    *cluster.mutable_max_disable_stamp() = stamp;
  }
  if (b.version_hold() != pb::VERSION_HOLD_UNCHANGED &&
      (!cluster.has_version_hold_stamp() ||
       merge::CompareStamps(cluster.version_hold_stamp(), stamp) < 0)) {
    cluster.set_version_held(b.version_hold() == pb::VERSION_HOLD_HOLD);
    *cluster.mutable_version_hold_stamp() = stamp;
  }
  txn.PutEntity(key, old, cluster);
  return Status::Ok();
}

Status ObjectStore::ApplyNodeVersionSet(Txn& txn, const pb::NodeVersionSet& b,
                                        const pb::Stamp& stamp) {
  if (!b.release().empty() && !Release::Parse(b.release())) {
    return InvalidArgument("record sets release '" + b.release() + "'");
  }
  auto fence = Release::Parse(b.fence());
  if (!b.fence().empty() && !fence) return InvalidArgument("record sets fence '" + b.fence() + "'");
  std::optional<pb::StoredNode> old;
  COFFER_ASSIGN_OR_RETURN(pb::StoredNode n, NodeRowOrPlaceholder(txn, b.node_id(), &old));
  // The release: last writer wins (a rollback lowers it); the fence: the
  // highest wins (a node never takes a fence back).
  if (!b.release().empty() &&
      (!n.has_release_stamp() || merge::CompareStamps(n.release_stamp(), stamp) < 0)) {
    n.set_release_version(b.release());
    *n.mutable_release_stamp() = stamp;
  }
  if (fence) {
    auto current = Release::Parse(n.fence_version());
    if (!current || *current < fence->Minor()) n.set_fence_version(fence->MinorString());
  }
  txn.PutEntity(keys::Node(b.node_id()), old, n);
  return Status::Ok();
}

Status ObjectStore::ApplyClusterVersionSet(Txn& txn, const pb::ClusterVersionSet& b) {
  auto version = Release::Parse(b.version());
  if (!version) return InvalidArgument("record sets cluster version '" + b.version() + "'");
  std::string key(keys::kClusterKey);
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredCluster>(txn.reader(), key));
  pb::StoredCluster cluster = old.value_or(pb::StoredCluster());
  RaiseClusterVersion(&cluster, b.version());
  txn.PutEntity(key, old, cluster);
  return Status::Ok();
}

Status ObjectStore::ApplyUpgradePlanSet(Txn& txn, const pb::UpgradePlanSet& b,
                                        const pb::Stamp& stamp) {
  std::string key(keys::kClusterKey);
  COFFER_ASSIGN_OR_RETURN(auto old, LoadMessage<pb::StoredCluster>(txn.reader(), key));
  pb::StoredCluster cluster = old.value_or(pb::StoredCluster());
  // The higher revision wins, then the later stamp: every node keeps the
  // same plan whatever order the writes arrive in.
  const bool newer = !cluster.has_upgrade_plan() ||
                     cluster.upgrade_plan().revision() < b.plan().revision() ||
                     (cluster.upgrade_plan().revision() == b.plan().revision() &&
                      merge::CompareStamps(cluster.upgrade_plan_stamp(), stamp) < 0);
  if (!newer) return Status::Ok();
  *cluster.mutable_upgrade_plan() = b.plan();
  *cluster.mutable_upgrade_plan_stamp() = stamp;
  txn.PutEntity(key, old, cluster);
  return Status::Ok();
}

}  // namespace coffer::storage
