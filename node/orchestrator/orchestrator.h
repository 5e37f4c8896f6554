// The rolling-upgrade orchestrator's driver: observes the cluster, asks the
// sans-IO upgrade::Stepper what to do, performs it through the controller
// and the nodes' client API, and persists the plan (a replicated record,
// compare-and-set at the node written through). It decides nothing itself;
// see upgrade/orchestrator/stepper.h for the rules and docs/upgrade.md for
// the operator's view.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/release.h"
#include "node/orchestrator/controller.h"
#include "node/orchestrator/observe.h"
#include "upgrade/orchestrator/prechecks.h"
#include "upgrade/orchestrator/stepper.h"

namespace coffer::node::orchestrator {

struct OrchestratorOptions {
  upgrade::StepOptions steps;
  // Between observations while waiting. Default: 200 ms.
  std::chrono::milliseconds poll{200};
  // An action (stop, start, a write...) that keeps failing this long pauses
  // the plan with check "action". Default: 60 s.
  std::chrono::milliseconds action_failure_bound{60'000};
};

// What `coffer upgrade plan|start` asks for.
struct PlanSpec {
  Release target;
  std::string binary;  // the target binary (as the controller names it)
  std::vector<std::string> overrides;
  upgrade::PrecheckOptions prechecks;
};

// A plan with its pre-checks recorded, and their verdict (OK: it may start).
struct PreparedPlan {
  pb::UpgradePlan plan;
  Status verdict;
};

// Called after each decision (for progress output): the plan as it stands,
// the decision, and the observation it came from.
using ProgressFn = std::function<void(const pb::UpgradePlan& plan, const upgrade::Decision& d,
                                      const upgrade::ClusterObservation& o)>;

class Orchestrator {
 public:
  // `owner` names this orchestrator in the plan's lease (OwnerName()).
  Orchestrator(ClusterAccess access, NodeController& controller, std::string owner,
               OrchestratorOptions options = {});

  const std::string& owner() const { return owner_; }

  StatusOr<Observed> Observe(const ObserveOptions& options = {});

  // Writes `next` (revision one above `current_revision`) through node `via`
  // (0: the first node that takes it) and returns it. UPGRADE_IN_PROGRESS
  // when another write came first (read the plan again).
  StatusOr<pb::UpgradePlan> Write(const pb::UpgradePlan& next, uint32_t via = 0);

  // Holds (or releases) the cluster version.
  Status SetVersionHold(bool hold);

  // Observes the cluster with the binary checks, runs the pre-checks and
  // computes the plan (nothing written). INVALID_ARGUMENT for an override
  // that is not allowed.
  StatusOr<PreparedPlan> Prepare(const PlanSpec& spec);

  // Writes a prepared plan (its verdict must be OK) and holds the cluster
  // version; the plan then runs with Run. UPGRADE_IN_PROGRESS if a plan
  // came first.
  StatusOr<pb::UpgradePlan> Begin(const PreparedPlan& prepared);

  // Finalizes a DONE plan: FINALIZED, the hold released, and waits up to
  // `wait` for the cluster version to reach the target. Returns the
  // cluster version seen last.
  StatusOr<std::string> FinalizePlan(std::chrono::milliseconds wait);

  // Runs `plan` (RUNNING or ROLLING_BACK, owned by this orchestrator) until
  // it leaves those states; returns the plan as last written. UPGRADE_IN_
  // PROGRESS if another orchestrator took the plan over; UNAVAILABLE if no
  // node answered for the action failure bound.
  StatusOr<pb::UpgradePlan> Run(pb::UpgradePlan plan, const ProgressFn& progress);

 private:
  Status Perform(const upgrade::Decision& d, const pb::UpgradePlan& plan);
  StatusOr<pb::Response> WriteOp(const pb::Op& op, const std::string& address);
  // `op` through the first reachable ACTIVE member that takes it.
  Status WriteThroughAnyActive(const pb::Op& op);

  ClusterAccess access_;
  NodeController& controller_;
  std::string owner_;
  OrchestratorOptions options_;
  std::map<uint32_t, std::string> addresses_;  // last observed member addresses
  std::map<uint32_t, std::string> names_;
  std::vector<uint32_t> writable_;  // reachable ACTIVE members at the last observation
};

// "host:pid:xxxx": a name for this orchestrator process.
std::string OwnerName();

// Wall-clock micros.
int64_t NowMicros();

}  // namespace coffer::node::orchestrator
