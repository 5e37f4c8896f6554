#include "node/cluster/version_keeper.h"

#include <spdlog/spdlog.h>

#include "upgrade/version_driver.h"

namespace coffer::node {

VersionKeeper::VersionKeeper(const upgrade::BinaryProfile& binary)
    : binary_(binary),
      gate_(std::make_shared<upgrade::GateSnapshot>(binary.registry,
                                                    binary.versions.min_cluster_version, false,
                                                    std::vector<std::string>{})) {}

void VersionKeeper::Round(storage::ObjectStore& store, replication::Replicator& replicator,
                          PeerAdmission& admission, Rng& rng) {
  auto step = upgrade::StepClusterVersion(store, replicator, binary_.versions, rng);
  if (!step.ok()) {
    spdlog::warn("cluster version: {}", step.status().ToString());
  } else if (step->record_release) {
    spdlog::info("recorded this node's release {}", step->record_release->ToString());
  } else if (step->record_fence) {
    spdlog::info("fenced cluster version {}", step->record_fence->MinorString());
  } else if (step->bump_to) {
    spdlog::info("raised the cluster version to {}", step->bump_to->MinorString());
  }
  Refresh(store, admission);
}

void VersionKeeper::Refresh(const storage::ObjectStore& store, PeerAdmission& admission) {
  auto view = upgrade::ReadVersionView(store, binary_.versions);
  if (!view.ok()) return spdlog::warn("cluster version: {}", view.status().ToString());
  // Links from binaries below the cluster version (or this node's fence)
  // are refused from now on.
  admission.SetVersionFloor(upgrade::VersionFloor(*view));
  gate_ = std::make_shared<upgrade::GateSnapshot>(upgrade::SnapshotGate(*view, binary_.registry));
}

}  // namespace coffer::node
