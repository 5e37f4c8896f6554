#include "node/orchestrator/orchestrator.h"

#include <unistd.h>

#include <random>
#include <thread>

#include "common/ids.h"
#include "common/rng.h"
#include "node/client/client.h"
#include "upgrade/orchestrator/control.h"
#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::node::orchestrator {
namespace {

std::string NewRequestId() {
  SystemRng rng;
  return Uuid::Generate(rng).str();
}

}  // namespace

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string OwnerName() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::random_device random;
  char tag[8];
  std::snprintf(tag, sizeof tag, "%04x", random() & 0xffff);
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + tag;
}

Orchestrator::Orchestrator(ClusterAccess access, NodeController& controller, std::string owner,
                           OrchestratorOptions options)
    : access_(std::move(access)),
      controller_(controller),
      owner_(std::move(owner)),
      options_(options) {}

StatusOr<Observed> Orchestrator::Observe(const ObserveOptions& options) {
  COFFER_ASSIGN_OR_RETURN(Observed observed,
                          ObserveCluster(access_, &controller_, options, NowMicros(), addresses_));
  addresses_ = observed.addresses;
  writable_.clear();
  for (const auto& n : observed.observation.nodes) {
    names_[n.node_id] = n.name;
    if (n.reachable && n.state == "ACTIVE") writable_.push_back(n.node_id);
  }
  return observed;
}

StatusOr<pb::Response> Orchestrator::WriteOp(const pb::Op& op, const std::string& address) {
  pb::Request request;
  request.set_request_id(NewRequestId());
  *request.mutable_write() = op;
  COFFER_ASSIGN_OR_RETURN(pb::Response response, access_.call(address, request));
  COFFER_RETURN_IF_ERROR(StatusFromResponse(response));
  return response;
}

StatusOr<pb::UpgradePlan> Orchestrator::Write(const pb::UpgradePlan& next, uint32_t via) {
  pb::Op op;
  op.mutable_upgrade_plan()->set_expected_revision(next.revision() - 1);
  *op.mutable_upgrade_plan()->mutable_plan() = next;
  if (via == 0) {
    COFFER_RETURN_IF_ERROR(WriteThroughAnyActive(op));
    return next;
  }
  auto it = addresses_.find(via);
  if (it == addresses_.end()) return Unavailable("no address for node " + std::to_string(via));
  COFFER_RETURN_IF_ERROR(WriteOp(op, it->second).status());
  return next;
}

Status Orchestrator::WriteThroughAnyActive(const pb::Op& op) {
  // Only ACTIVE nodes: a record written through a node about to stop (or
  // disabled: it replicates nothing) would reach no one.
  std::vector<std::string> targets;
  for (uint32_t id : writable_) targets.push_back(addresses_[id]);
  if (targets.empty()) targets = access_.entry_addresses;  // not observed yet
  Status last = Unavailable("no node to write through");
  for (const auto& address : targets) {
    auto response = WriteOp(op, address);
    if (response.ok()) return Status::Ok();
    last = response.status();
    // Another write came first: trying elsewhere would not help.
    if (last.code() == Code::kUpgradeInProgress) return last;
  }
  return last;
}

Status Orchestrator::SetVersionHold(bool hold) {
  pb::Op op;
  op.mutable_cluster_set()->set_version_hold(hold ? pb::VERSION_HOLD_HOLD
                                                  : pb::VERSION_HOLD_RELEASE);
  return WriteThroughAnyActive(op);
}

StatusOr<PreparedPlan> Orchestrator::Prepare(const PlanSpec& spec) {
  COFFER_RETURN_IF_ERROR(upgrade::ValidateOverrides(spec.overrides));
  COFFER_ASSIGN_OR_RETURN(Observed observed,
                          Observe({.binary_checks = true, .target_binary = spec.binary}));
  const upgrade::ClusterObservation& o = observed.observation;
  auto checks = upgrade::RunPrechecks(o, spec.target, spec.overrides, spec.prechecks);
  SystemRng rng;
  upgrade::PlanRequest request{Uuid::Generate(rng).str(), owner_, spec.target, spec.binary,
                               spec.overrides};
  COFFER_ASSIGN_OR_RETURN(pb::UpgradePlan plan, upgrade::MakePlan(o, request));
  for (const auto& c : checks) *plan.add_checks() = c;
  plan.set_lease_until_micros(o.now_micros + options_.steps.lease_micros);
  return PreparedPlan{std::move(plan), upgrade::PrecheckVerdict(checks)};
}

StatusOr<pb::UpgradePlan> Orchestrator::Begin(const PreparedPlan& prepared) {
  COFFER_RETURN_IF_ERROR(prepared.verdict);
  COFFER_ASSIGN_OR_RETURN(pb::UpgradePlan written, Write(prepared.plan));
  Status held = SetVersionHold(true);
  if (!held.ok()) return held.Annotate("holding the cluster version");
  return written;
}

StatusOr<std::string> Orchestrator::FinalizePlan(std::chrono::milliseconds wait) {
  COFFER_ASSIGN_OR_RETURN(Observed observed, Observe());
  const upgrade::ClusterObservation& o = observed.observation;
  if (!o.plan) return NotFound("this cluster has no upgrade plan");
  COFFER_ASSIGN_OR_RETURN(pb::UpgradePlan next, upgrade::Finalize(*o.plan, o));
  if (next.revision() != o.plan->revision()) COFFER_RETURN_IF_ERROR(Write(next).status());
  Status released = SetVersionHold(false);
  if (!released.ok()) return released.Annotate("releasing the version hold");
  const std::string target = Release::Parse(next.to_release())->MinorString();
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::string seen = o.cluster_version;
  while (seen != target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(options_.poll);  // bounded by `wait`
    auto again = Observe();
    if (again.ok()) seen = again->observation.cluster_version;
  }
  return seen;
}

Status Orchestrator::Perform(const upgrade::Decision& d, const pb::UpgradePlan& plan) {
  const std::string& name = names_[d.node_id];
  switch (d.action) {
    case upgrade::Action::kDisable: {
      pb::Op op;
      op.mutable_node_state()->set_node_id(d.node_id);
      op.mutable_node_state()->set_state(pb::NODE_DISABLING);
      op.mutable_node_state()->set_upgrade_plan_id(plan.plan_id());
      // Through the node itself: it knows its own state. Another node with a
      // lagging view could take a second DISABLING after the node went
      // DISABLED, and its later stamp would win on the others.
      return WriteOp(op, addresses_[d.node_id]).status();
    }
    case upgrade::Action::kEnable: {
      pb::Op op;
      op.mutable_node_state()->set_node_id(d.node_id);
      op.mutable_node_state()->set_state(pb::NODE_ENABLING);
      return WriteOp(op, addresses_[d.node_id]).status();
    }
    case upgrade::Action::kStop:
      return controller_.Stop(name);
    case upgrade::Action::kSwap:
      return controller_.Swap(name, d.binary);
    case upgrade::Action::kStart:
      return controller_.Start(name);
    default:
      return Status::Ok();
  }
}

StatusOr<pb::UpgradePlan> Orchestrator::Run(pb::UpgradePlan plan, const ProgressFn& progress) {
  upgrade::Stepper stepper(options_.steps);
  std::map<uint32_t, std::string> action_errors;
  auto failing_since = std::chrono::steady_clock::time_point::max();
  std::string last_failure;
  bool hold_checked = false;
  while (true) {
    auto observed = Observe();
    Status failure = observed.status();
    if (observed.ok()) {
      upgrade::ClusterObservation& o = observed->observation;
      // A newer revision of this plan: an operator's pause or abort request
      // (kept), or another orchestrator took it over (stop).
      if (o.plan && o.plan->plan_id() == plan.plan_id() && o.plan->revision() > plan.revision()) {
        if (o.plan->owner() != owner_) return upgrade::InProgress(*o.plan, o.now_micros);
        plan = *o.plan;
      } else if (o.plan && o.plan->plan_id() == plan.plan_id() &&
                 o.plan->revision() == plan.revision()) {
        // A request written over the same revision as this orchestrator's
        // last write (at a node that had not seen it yet): keep it.
        if (o.plan->pause_requested()) plan.set_pause_requested(true);
        if (o.plan->abort_requested()) plan.set_abort_requested(true);
      }
      if (!hold_checked && !o.version_held && upgrade::PlanRunning(plan)) {
        failure = SetVersionHold(true);
        hold_checked = failure.ok();
      } else {
        hold_checked = true;
      }
      for (auto& n : o.nodes) {
        auto e = action_errors.find(n.node_id);
        if (e != action_errors.end()) n.last_action_error = e->second;
      }
      upgrade::Decision d = stepper.Next(plan, o);
      if (progress) progress(plan, d, o);
      if (d.action == upgrade::Action::kFinished) return plan;
      if (failure.ok()) failure = Perform(d, plan);
      if (failure.ok()) {
        action_errors.erase(d.node_id);
        if (d.persist) {
          auto written = Write(*d.persist, d.persist_via);
          if (written.ok()) {
            plan = *written;
          } else {
            failure = written.status();
          }
        }
      } else if (d.node_id != 0) {
        action_errors[d.node_id] =
            std::string(upgrade::ActionName(d.action)) + ": " + failure.ToString();
      }
      if (failure.ok()) {
        failing_since = std::chrono::steady_clock::time_point::max();
        if (d.action == upgrade::Action::kWait) std::this_thread::sleep_for(options_.poll);
        continue;
      }
      // A lost compare-and-set: observe again (the loop adopts or stops).
      if (failure.code() == Code::kUpgradeInProgress) {
        std::this_thread::sleep_for(options_.poll);
        continue;
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (failing_since == std::chrono::steady_clock::time_point::max()) failing_since = now;
    last_failure = failure.ToString();
    if (now - failing_since > options_.action_failure_bound) {
      // Pause with what failed, if any node takes the write.
      pb::UpgradePlan paused = upgrade::NextRevision(plan, NowMicros(), 0);
      paused.set_state(pb::UPGRADE_PAUSED);
      paused.mutable_pause()->set_check("action");
      paused.mutable_pause()->set_observed(last_failure.substr(0, 1000));
      paused.mutable_pause()->set_at_micros(NowMicros());
      auto written = Write(paused);
      if (written.ok()) return *written;
      return Unavailable("the plan could not go on nor be paused: " + last_failure);
    }
    std::this_thread::sleep_for(options_.poll);
  }
}

}  // namespace coffer::node::orchestrator
