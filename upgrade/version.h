// Release and protocol version constants, in one place (architecture.md #9).
// upgrade/README.md says how releases, cluster versions and formats relate.
#pragma once

#include <string>
#include <string_view>

#include "common/release.h"
#include "common/status.h"

namespace coffer {

// The release of this binary (major.minor.patch).
inline constexpr std::string_view kReleaseVersion = "0.3.0";
// Version of the client API frames (proto/api.proto).
inline constexpr int kClientApiVersion = 1;

// What a binary runs: its release and the cluster versions it supports. A
// value, not only constants, so the simulation can run nodes of two releases
// in one process.
struct BinaryVersions {
  Release release;
  // The lowest cluster version this binary runs at; the highest is its own
  // release's major.minor. From 0.3 on: the previous minor (one step of
  // skew, as Kubernetes allows). Release 0.2 is the first with cluster
  // versions: 0.1 clusters move to it by a full restart (docs/upgrade.md).
  Release min_cluster_version;

  constexpr Release max_cluster_version() const { return release.Minor(); }
  constexpr bool Supports(Release cluster_version) const {
    return cluster_version.Minor() >= min_cluster_version &&
           cluster_version.Minor() <= max_cluster_version();
  }
};

inline constexpr Release kBinaryRelease = *Release::Parse(kReleaseVersion);
inline constexpr BinaryVersions kThisBinary{kBinaryRelease, kBinaryRelease.PreviousMinor()};
static_assert(kThisBinary.min_cluster_version <= kBinaryRelease.Minor());

// Whether a node of release `theirs` may link to or join a node of binary
// `self` (semantics.md section 6): a release within one minor of this one
// (either way), and not below `floor`: the cluster version, or a higher
// version this node fenced (upgrade/cluster_version.h). INCOMPATIBLE_VERSION
// naming both releases (and the floor) otherwise.
Status CheckCompatibleRelease(std::string_view theirs, const BinaryVersions& self, Release floor);

}  // namespace coffer
