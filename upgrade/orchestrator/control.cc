#include "upgrade/orchestrator/control.h"

#include "upgrade/orchestrator/plan_builder.h"
#include "upgrade/orchestrator/stepper.h"

namespace coffer::upgrade {
namespace {

Status NotIn(const pb::UpgradePlan& plan, const std::string& what) {
  return InvalidState("upgrade plan " + plan.plan_id() + " is " + PlanStateName(plan.state()) +
                      ": " + what);
}

}  // namespace

bool LeaseHeldByOther(const pb::UpgradePlan& plan, const std::string& owner, int64_t now_micros) {
  return PlanRunning(plan) && plan.owner() != owner && plan.lease_until_micros() > now_micros;
}

Status InProgress(const pb::UpgradePlan& plan, int64_t now_micros) {
  return Status(Code::kUpgradeInProgress,
                "upgrade plan " + plan.plan_id() + " to " + plan.to_release() + " is " +
                    PlanStateName(plan.state()) + ", run by orchestrator " + plan.owner() +
                    " (lease for " +
                    std::to_string((plan.lease_until_micros() - now_micros) / 1'000'000 + 1) +
                    " s more): pause it, or wait for it");
}

StatusOr<pb::UpgradePlan> TakeOver(const pb::UpgradePlan& plan, const std::string& owner,
                                   int64_t now_micros, int64_t lease_micros) {
  if (LeaseHeldByOther(plan, owner, now_micros)) return InProgress(plan, now_micros);
  if (!PlanRunning(plan) && plan.state() != pb::UPGRADE_PAUSED) {
    return NotIn(plan, "there is nothing to resume");
  }
  pb::UpgradePlan p = NextRevision(plan, now_micros, lease_micros);
  p.set_owner(owner);
  if (p.state() == pb::UPGRADE_PAUSED) {
    p.set_state(p.rollback_size() > 0 ? pb::UPGRADE_ROLLING_BACK : pb::UPGRADE_RUNNING);
  }
  p.clear_pause();
  p.set_pause_requested(false);
  // The current node's wait starts again: resume re-observes, then acts.
  auto* list = p.state() == pb::UPGRADE_ROLLING_BACK ? p.mutable_rollback() : p.mutable_nodes();
  for (auto& n : *list) {
    if (n.step() != pb::STEP_DONE) {
      n.set_step_started_micros(now_micros);
      break;
    }
  }
  return p;
}

StatusOr<pb::UpgradePlan> RequestPause(const pb::UpgradePlan& plan, int64_t now_micros) {
  if (!PlanRunning(plan)) return NotIn(plan, "only a running plan can be paused");
  pb::UpgradePlan p = plan;
  p.set_revision(plan.revision() + 1);
  p.set_updated_micros(now_micros);
  p.set_pause_requested(true);
  return p;
}

StatusOr<pb::UpgradePlan> RequestAbort(const pb::UpgradePlan& plan, int64_t now_micros) {
  if (!PlanRunning(plan) && plan.state() != pb::UPGRADE_PAUSED) {
    return NotIn(plan, "only a running or paused plan can be aborted");
  }
  pb::UpgradePlan p = plan;
  p.set_revision(plan.revision() + 1);
  p.set_updated_micros(now_micros);
  p.set_abort_requested(true);
  p.set_pause_requested(false);
  if (p.state() == pb::UPGRADE_PAUSED) {
    p.set_state(p.rollback_size() > 0 ? pb::UPGRADE_ROLLING_BACK : pb::UPGRADE_RUNNING);
    p.clear_pause();
  }
  return p;
}

StatusOr<pb::UpgradePlan> StartRollback(const pb::UpgradePlan& plan, const std::string& owner,
                                        int64_t now_micros, int64_t lease_micros) {
  if (plan.state() == pb::UPGRADE_FINALIZED) {
    return InvalidState("upgrade plan " + plan.plan_id() +
                        " was finalized: the cluster version rose to " + plan.to_release() +
                        " and a " + plan.from_release() +
                        " binary refuses the store; rollback is no longer possible");
  }
  if (LeaseHeldByOther(plan, owner, now_micros)) return InProgress(plan, now_micros);
  if (plan.state() == pb::UPGRADE_ROLLING_BACK)
    return TakeOver(plan, owner, now_micros, lease_micros);
  if (plan.state() == pb::UPGRADE_ROLLED_BACK) return NotIn(plan, "it was already rolled back");
  pb::UpgradePlan p = NextRevision(plan, now_micros, lease_micros);
  p.set_owner(owner);
  p.set_state(pb::UPGRADE_ROLLING_BACK);
  p.clear_pause();
  p.set_pause_requested(false);
  p.set_abort_requested(false);
  p.clear_rollback();
  for (int i = plan.nodes_size() - 1; i >= 0; --i) {
    const pb::UpgradeNode& n = plan.nodes(i);
    if (n.step() == pb::STEP_PENDING) continue;
    auto* back = p.add_rollback();
    back->set_node_id(n.node_id());
    back->set_name(n.name());
    back->set_old_binary(n.old_binary());
    back->set_step_started_micros(now_micros);
    // Installed the new binary (or may have: SWAP recorded the old one
    // first): every step again with the old one. Otherwise the node still
    // has its old binary: start it if stopped, and enable it.
    back->set_step(!n.old_binary().empty() ? pb::STEP_PENDING : pb::STEP_START);
  }
  return p;
}

StatusOr<pb::UpgradePlan> Finalize(const pb::UpgradePlan& plan,
                                   const ClusterObservation& observation) {
  if (plan.state() == pb::UPGRADE_FINALIZED) return plan;
  if (plan.state() != pb::UPGRADE_DONE) {
    return NotIn(plan, "finalize needs a DONE plan (every node upgraded)");
  }
  std::string missing;
  for (const auto& n : observation.nodes) {
    if (n.reachable && n.running_release == plan.to_release() &&
        n.recorded_release == plan.to_release()) {
      continue;
    }
    missing += (missing.empty() ? "" : ", ") + n.name + " (" +
               (n.reachable ? "runs " + n.running_release + ", recorded " + n.recorded_release
                            : "unreachable") +
               ")";
  }
  if (!missing.empty()) {
    return InvalidState("finalize needs every member on " + plan.to_release() + ": " + missing);
  }
  pb::UpgradePlan p = plan;
  p.set_revision(plan.revision() + 1);
  p.set_updated_micros(observation.now_micros);
  p.set_state(pb::UPGRADE_FINALIZED);
  return p;
}

}  // namespace coffer::upgrade
