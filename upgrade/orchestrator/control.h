// Operator requests on a persisted upgrade plan, without I/O: each returns
// the plan to write (one revision on) or why the request is refused. The
// CLI (node/cli/upgrade_cmd.cc) writes the result with the plan's
// compare-and-set, so two racing requests cannot both apply.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "proto/records.pb.h"
#include "upgrade/orchestrator/observation.h"

namespace coffer::upgrade {

// True while an orchestrator other than `owner` holds the plan's lease.
bool LeaseHeldByOther(const pb::UpgradePlan& plan, const std::string& owner, int64_t now_micros);

// UPGRADE_IN_PROGRESS naming the plan and the orchestrator that holds it.
Status InProgress(const pb::UpgradePlan& plan, int64_t now_micros);

// `owner` takes the plan over to run it: a PAUSED plan RUNNING again (or
// ROLLING_BACK if it was rolling back), or a RUNNING/ROLLING_BACK plan whose
// lease ran out (its orchestrator died). The current node's step timeout
// starts again. UPGRADE_IN_PROGRESS if another orchestrator holds the lease;
// INVALID_STATE for a finished plan.
// `plan` must be the newest revision any member has: the plan's
// compare-and-set is at the origin only, so a plan taken over as one
// lagging node has it (the newest revisions only on a member that is down)
// forks it, and what the newer revisions recorded (a swap's old binary, a
// stop) is lost. The simulation's driver reads it from every member (one
// the plan stopped after it went DISABLED excepted) before it takes over
// (tests/sim/sim_orchestrator.cc; Simulation.PlantedTakeoverFromOneNodeIsCaught).
StatusOr<pb::UpgradePlan> TakeOver(const pb::UpgradePlan& plan, const std::string& owner,
                                   int64_t now_micros, int64_t lease_micros);

// Asks the running orchestrator to pause at its next step boundary.
// INVALID_STATE unless RUNNING or ROLLING_BACK.
StatusOr<pb::UpgradePlan> RequestPause(const pb::UpgradePlan& plan, int64_t now_micros);

// Asks for an abort: the plan stops at the next step boundary with every
// node enabled, on the old or the new binary. A PAUSED plan becomes RUNNING
// with the request set (the caller then runs it to ABORTED).
StatusOr<pb::UpgradePlan> RequestAbort(const pb::UpgradePlan& plan, int64_t now_micros);

// The plan ROLLING_BACK: `rollback` lists the nodes that left their old
// state, newest first. A swapped node goes through every step again with its
// old binary; a node disabled but not swapped is only started if needed and
// enabled. Allowed from RUNNING (lease not held by another), PAUSED, DONE
// and ABORTED; INVALID_STATE after finalize (the cluster version rose: an old
// binary refuses the store).
StatusOr<pb::UpgradePlan> StartRollback(const pb::UpgradePlan& plan, const std::string& owner,
                                        int64_t now_micros, int64_t lease_micros);

// The plan FINALIZED, once DONE and every member runs the target release
// (reachable, its membership row recording it). INVALID_STATE otherwise,
// naming what is missing. The caller then releases the version hold.
StatusOr<pb::UpgradePlan> Finalize(const pb::UpgradePlan& plan,
                                   const ClusterObservation& observation);

}  // namespace coffer::upgrade
