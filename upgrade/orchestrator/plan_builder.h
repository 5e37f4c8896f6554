// The rolling-upgrade plan, computed from an observation of the cluster,
// without I/O (semantics.md section 7; upgrade/orchestrator/README.md).
// Deterministic: the same observation and request give the same plan.
#pragma once

#include <string>
#include <vector>

#include "common/release.h"
#include "common/status.h"
#include "proto/records.pb.h"
#include "upgrade/orchestrator/observation.h"

namespace coffer::upgrade {

struct PlanRequest {
  std::string plan_id;  // chosen by the caller (a uuid)
  std::string owner;    // the orchestrator that will run it
  Release target;
  std::string binary;                  // the target binary, as the controller names it
  std::vector<std::string> overrides;  // pre-checks overridden by name
};

// The order nodes are upgraded in: read-only nodes first, then the
// read-write pairs one pair at a time (pairs by their lowest node id), one
// node of a pair at a time; within each group, the node with fewer
// unreplicated records first (then the lower id).
std::vector<uint32_t> UpgradeOrder(const ClusterObservation& observation);

// The release the cluster runs now: the lowest release any member runs or
// has recorded. INVALID_STATE when no member's release is known.
StatusOr<Release> CurrentRelease(const ClusterObservation& observation);

// A new plan (state RUNNING, every node PENDING, revision one above the
// observed plan's). It does not run the pre-checks (prechecks.h): the caller
// records their results in `checks`.
StatusOr<pb::UpgradePlan> MakePlan(const ClusterObservation& observation,
                                   const PlanRequest& request);

// RUNNING or ROLLING_BACK: an orchestrator is (or should be) stepping it.
bool PlanRunning(const pb::UpgradePlan& plan);

// Short forms for output: "RUNNING", "WAIT_ACTIVE".
std::string PlanStateName(pb::UpgradePlanState state);
std::string StepName(pb::UpgradeStep step);

}  // namespace coffer::upgrade
