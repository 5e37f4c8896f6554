// Performs the cluster version's decisions (upgrade/cluster_version.h) on a
// node's store and replicator, and builds the gate snapshot from the store.
// The node (node/) and the simulation (tests/sim/) both run the cluster
// version through here, so the simulation runs what a node runs.
//
// Threading: the replicator's owner thread, as Replicator.
#pragma once

#include <span>

#include "common/rng.h"
#include "common/status.h"
#include "proto/api.pb.h"
#include "replication/replicator.h"
#include "storage/object_store.h"
#include "upgrade/cluster_version.h"
#include "upgrade/features.h"
#include "upgrade/gate.h"

namespace coffer::upgrade {

// The view the decisions take, read from `store`'s cluster and member rows
// (deleted members left out). A standalone store: no members, the cluster
// version of `binary`'s release.
StatusOr<VersionView> ReadVersionView(const storage::ObjectStore& store,
                                      const BinaryVersions& binary);

// VersionFloor of `store`'s view: the lowest release it lets link or join.
StatusOr<Release> ReadVersionFloor(const storage::ObjectStore& store, const BinaryVersions& binary);

// Decides this node's next step and writes it (unpaired, as lifecycle steps
// are: a restricted node still records its release; a DISABLING or DISABLED
// one writes nothing, VersionView::self_disabled). Returns the
// step written (empty if none); an error if the write failed (decided again
// next time). Fault point `upgrade.after_fence`: hit right after a fence is
// written (armed, the call returns UNAVAILABLE; tests crash the node there).
StatusOr<VersionStep> StepClusterVersion(const storage::ObjectStore& store,
                                         replication::Replicator& replicator,
                                         const BinaryVersions& binary, Rng& rng);

// The gate of `view` under `registry`.
GateSnapshot SnapshotGate(const VersionView& view, std::span<const FeatureInfo> registry);

// What `coffer cluster version` shows of `view` under `registry`.
pb::VersionView DescribeVersions(const VersionView& view, std::span<const FeatureInfo> registry);

}  // namespace coffer::upgrade
