// Feature gates: one snapshot of the cluster version, taken at the start of
// an operation and asked throughout it (MongoDB's FCV rule: an operation
// never sees the version change under it).
//
// Threading: a GateSnapshot is an immutable value; copy it freely.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/release.h"
#include "common/status.h"
#include "upgrade/features.h"

namespace coffer::upgrade {

class GateSnapshot {
 public:
  // `cluster_version` as this node has it; `held` whether an operator holds
  // it; `holders` the members (described for an operator) that keep it from
  // rising, empty when none do.
  GateSnapshot(std::span<const FeatureInfo> registry, Release cluster_version, bool held,
               std::vector<std::string> holders);

  Release cluster_version() const { return cluster_version_; }
  bool held() const { return held_; }
  const std::vector<std::string>& holders() const { return holders_; }

  // Whether `feature` is on: it is in this binary's registry and the cluster
  // version has reached the release that introduced it.
  bool IsActive(Feature feature) const;

  // OK if `feature` is active; else FEATURE_NOT_ACTIVE with a message naming
  // the feature, the cluster version it needs, the current one, and what
  // holds the version back (the members below, or the hold).
  Status Require(Feature feature) const;

 private:
  const FeatureInfo* Find(Feature feature) const;

  std::span<const FeatureInfo> registry_;
  Release cluster_version_;
  bool held_;
  std::vector<std::string> holders_;
};

}  // namespace coffer::upgrade
