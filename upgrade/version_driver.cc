#include "upgrade/version_driver.h"

#include "common/fault_point.h"
#include "common/ids.h"

namespace coffer::upgrade {

StatusOr<VersionView> ReadVersionView(const storage::ObjectStore& store,
                                      const BinaryVersions& binary) {
  VersionView view;
  view.self = store.node_id().value;
  view.binary = binary;
  view.cluster_version = binary.release.Minor();
  COFFER_ASSIGN_OR_RETURN(auto cluster, store.Cluster());
  if (!cluster) return view;
  if (auto version = Release::Parse(cluster->cluster_version())) {
    view.cluster_version = *version;
  } else {
    view.cluster_version = binary.min_cluster_version;  // a store written by 0.1
    view.cluster_version_recorded = false;
  }
  // Planted bug upgrade.stale_version_view (the simulation's checker must
  // see it): the version read as the lowest this binary runs at.
  if (COFFER_FAULT_POINT("upgrade.stale_version_view")) {
    view.cluster_version = binary.min_cluster_version;
  }
  view.held = cluster->version_held();
  COFFER_ASSIGN_OR_RETURN(auto nodes, store.Members());
  for (const auto& n : nodes) {
    if (n.deleted()) continue;
    if (n.node_id() == view.self) {
      view.self_disabled = n.state() == pb::NODE_DISABLING || n.state() == pb::NODE_DISABLED;
    }
    view.members.push_back(MemberVersion{.node_id = n.node_id(),
                                         .name = n.name().name(),
                                         .release = Release::Parse(n.release_version()),
                                         .fence = Release::Parse(n.fence_version())});
  }
  return view;
}

StatusOr<Release> ReadVersionFloor(const storage::ObjectStore& store,
                                   const BinaryVersions& binary) {
  COFFER_ASSIGN_OR_RETURN(VersionView view, ReadVersionView(store, binary));
  return VersionFloor(view);
}

StatusOr<VersionStep> StepClusterVersion(const storage::ObjectStore& store,
                                         replication::Replicator& replicator,
                                         const BinaryVersions& binary, Rng& rng) {
  COFFER_ASSIGN_OR_RETURN(VersionView view, ReadVersionView(store, binary));
  VersionStep step = Decide(view);
  if (step.empty()) return step;
  pb::Op op;
  if (step.record_release || step.record_fence) {
    auto* b = op.mutable_node_version();
    b->set_node_id(view.self);
    if (step.record_release) b->set_release(step.record_release->ToString());
    if (step.record_fence) b->set_fence(step.record_fence->MinorString());
  } else {
    op.mutable_cluster_version()->set_version(step.bump_to->MinorString());
  }
  COFFER_RETURN_IF_ERROR(
      replicator.WriteUnpaired(op, "version-" + Uuid::Generate(rng).str()).status());
  // A crash between the fence and the bump (tests arm it to end the
  // process here; the simulation crashes the node).
  if (step.record_fence && COFFER_FAULT_POINT("upgrade.after_fence")) {
    return Status(Code::kUnavailable, "fault point upgrade.after_fence: stopped after the fence");
  }
  return step;
}

GateSnapshot SnapshotGate(const VersionView& view, std::span<const FeatureInfo> registry) {
  return GateSnapshot(registry, view.cluster_version, view.held, Holders(view));
}

pb::VersionView DescribeVersions(const VersionView& view, std::span<const FeatureInfo> registry) {
  pb::VersionView out;
  out.set_cluster_version(view.cluster_version.MinorString());
  out.set_held(view.held);
  for (auto& h : Holders(view)) out.add_holders(std::move(h));
  out.set_binary_release(view.binary.release.ToString());
  out.set_min_cluster_version(view.binary.min_cluster_version.MinorString());
  out.set_max_cluster_version(view.binary.max_cluster_version().MinorString());
  GateSnapshot gate = SnapshotGate(view, registry);
  for (const auto& f : registry) {
    auto* fv = out.add_features();
    fv->set_name(std::string(f.name));
    fv->set_introduced(f.introduced.MinorString());
    fv->set_active(gate.IsActive(f.feature));
    fv->set_changes(std::string(f.changes));
  }
  return out;
}

}  // namespace coffer::upgrade
