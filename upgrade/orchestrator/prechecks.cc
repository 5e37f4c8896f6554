#include "upgrade/orchestrator/prechecks.h"

#include <algorithm>
#include <functional>

#include "storage/membership.h"
#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::upgrade {
namespace {

constexpr std::string_view kOverridable[] = {"backup", "certificates", "disk-headroom",
                                             "replication-lag", "max-disable-duration"};

// "node1 (DISABLED), node3 (EXPIRED)": the nodes `bad` picks, with `what`.
std::string ListNodes(const ClusterObservation& o,
                      const std::function<std::string(const NodeObservation&)>& bad) {
  std::string out;
  for (const auto& n : o.nodes) {
    std::string why = bad(n);
    if (why.empty()) continue;
    if (!out.empty()) out += ", ";
    out += n.name + " (" + why + ")";
  }
  return out;
}

pb::UpgradeCheck Check(std::string_view name, bool passed, std::string observed) {
  pb::UpgradeCheck c;
  c.set_name(std::string(name));
  c.set_passed(passed);
  c.set_observed(std::move(observed));
  return c;
}

pb::UpgradeCheck NoOtherPlan(const ClusterObservation& o) {
  if (!o.plan) return Check("no-other-plan", true, "no plan");
  if (!storage::UpgradePlanActive(*o.plan)) {
    return Check("no-other-plan", true,
                 "last plan " + o.plan->plan_id() + " is " + PlanStateName(o.plan->state()));
  }
  return Check("no-other-plan", false,
               "plan " + o.plan->plan_id() + " to " + o.plan->to_release() + " is " +
                   PlanStateName(o.plan->state()) + " (orchestrator " + o.plan->owner() + ")");
}

pb::UpgradeCheck TargetRelease(const ClusterObservation& o, const Release& target) {
  auto from = CurrentRelease(o);
  if (!from.ok()) return Check("target-release", false, from.status().message());
  std::string seen = "cluster runs " + from->ToString() + ", target " + target.ToString();
  // Every member on one release: a mixed cluster finishes its upgrade first.
  std::string mixed = ListNodes(o, [&](const NodeObservation& n) {
    auto r = Release::Parse(n.running_release);
    return r && *r != *from ? n.running_release : std::string();
  });
  if (!mixed.empty()) {
    return Check("target-release", false, seen + "; members on another release: " + mixed);
  }
  if (target < *from) {
    return Check("target-release", false, seen + ": a lower release is a rollback, not a plan");
  }
  if (target.Minor() != from->Minor() && target.Minor() != from->NextMinor()) {
    return Check("target-release", false,
                 seen + ": only the same or the next minor release (" +
                     from->NextMinor().MinorString() + ".x) is allowed; upgrade through each");
  }
  return Check("target-release", true, seen);
}

}  // namespace

bool Overridable(std::string_view name) {
  return std::find(std::begin(kOverridable), std::end(kOverridable), name) !=
         std::end(kOverridable);
}

std::vector<pb::UpgradeCheck> RunPrechecks(const ClusterObservation& o, const Release& target,
                                           const std::vector<std::string>& overrides,
                                           const PrecheckOptions& options) {
  std::vector<pb::UpgradeCheck> checks;
  checks.push_back(NoOtherPlan(o));
  checks.push_back(TargetRelease(o, target));

  std::string unreachable = ListNodes(o, [](const NodeObservation& n) {
    return n.reachable ? std::string() : "unreachable: " + n.reachable_error;
  });
  checks.push_back(
      Check("members-reachable", unreachable.empty(),
            unreachable.empty() ? std::to_string(o.nodes.size()) + " answered" : unreachable));

  std::string inactive = ListNodes(
      o, [](const NodeObservation& n) { return n.state == "ACTIVE" ? std::string() : n.state; });
  checks.push_back(
      Check("members-active", inactive.empty(), inactive.empty() ? "all ACTIVE" : inactive));

  std::string disabled = ListNodes(o, [](const NodeObservation& n) {
    bool off = n.state == "DISABLING" || n.state == "DISABLED" || n.state == "ENABLING" ||
               n.state == "EXPIRED";
    return off ? n.state : std::string();
  });
  checks.push_back(
      Check("no-disabled", disabled.empty(), disabled.empty() ? "none disabled" : disabled));

  int64_t worst_lag = 0;
  std::string worst_node = "-";
  for (const auto& n : o.nodes) {
    if (n.max_lag_ms > worst_lag) {
      worst_lag = n.max_lag_ms;
      worst_node = n.name;
    }
  }
  checks.push_back(Check("replication-lag", worst_lag <= options.max_lag_ms,
                         "largest " + std::to_string(worst_lag) + " ms (" + worst_node +
                             "), bound " + std::to_string(options.max_lag_ms) + " ms"));

  checks.push_back(
      Check("max-disable-duration",
            static_cast<int64_t>(o.max_disable_seconds) > options.expected_node_seconds,
            "maximum disable duration " + std::to_string(o.max_disable_seconds) +
                " s, expected time per node " + std::to_string(options.expected_node_seconds) +
                " s (raise it: coffer cluster set --max-disable-seconds)"));

  // Coffer has no backup command yet: the check cannot pass on its own, and
  // an operator who has a copy of every store overrides it by name (recorded
  // in the plan).
  checks.push_back(Check("backup", false,
                         "no backup recorded (this release has no backup command; take a copy "
                         "of each data directory, then --override backup)"));

  const int64_t now_s = o.now_micros / 1'000'000;
  std::string expiring = ListNodes(o, [&](const NodeObservation& n) {
    if (n.cert_not_after == 0) return std::string("expiry unknown");
    int64_t left = n.cert_not_after - now_s;
    return left < options.min_certificate_seconds
               ? "expires in " + std::to_string(left / 3600) + " h"
               : std::string();
  });
  checks.push_back(Check("certificates", expiring.empty(),
                         expiring.empty()
                             ? "every node certificate valid >= " +
                                   std::to_string(options.min_certificate_seconds / 86400) + " days"
                             : expiring));

  std::string tight = ListNodes(o, [&](const NodeObservation& n) {
    int64_t need =
        std::max<int64_t>(options.min_free_bytes, 2 * static_cast<int64_t>(n.store_bytes));
    if (n.disk_free_bytes < 0) return std::string("free space unknown");
    return n.disk_free_bytes < need ? std::to_string(n.disk_free_bytes >> 20) + " MiB free, " +
                                          std::to_string(need >> 20) + " MiB needed"
                                    : std::string();
  });
  checks.push_back(Check("disk-headroom", tight.empty(),
                         tight.empty() ? "free >= max(2x store, " +
                                             std::to_string(options.min_free_bytes >> 20) +
                                             " MiB) on every node"
                                       : tight));

  std::string missing = ListNodes(o, [&](const NodeObservation& n) {
    if (n.target_binary_release.empty()) return std::string("binary missing");
    return n.target_binary_release != target.ToString() ? "binary is " + n.target_binary_release
                                                        : std::string();
  });
  checks.push_back(Check("binary-present", missing.empty(),
                         missing.empty() ? target.ToString() + " binary on every node" : missing));

  std::string refused = ListNodes(o, [](const NodeObservation& n) { return n.check_store_error; });
  checks.push_back(Check("check-store", refused.empty(),
                         refused.empty() ? "every store opens with the target binary" : refused));

  for (auto& c : checks) {
    if (!c.passed() && Overridable(c.name()) &&
        std::find(overrides.begin(), overrides.end(), c.name()) != overrides.end()) {
      c.set_passed(true);
      c.set_overridden(true);
    }
  }
  return checks;
}

Status PrecheckVerdict(const std::vector<pb::UpgradeCheck>& checks) {
  std::string failed;
  for (const auto& c : checks) {
    if (c.passed()) continue;
    if (c.name() == "no-other-plan") {
      return Status(Code::kUpgradeInProgress, "another upgrade runs: " + c.observed());
    }
    failed += (failed.empty() ? "" : "; ") + c.name() + ": " + c.observed();
  }
  if (failed.empty()) return Status::Ok();
  return Status(Code::kPrecheckFailed, "pre-checks failed: " + failed);
}

Status ValidateOverrides(const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    bool known = std::find(std::begin(kPrecheckNames), std::end(kPrecheckNames), o) !=
                 std::end(kPrecheckNames);
    if (!known) return InvalidArgument("--override " + o + ": there is no pre-check of that name");
    if (!Overridable(o)) {
      return InvalidArgument("--override " + o +
                             ": this check guards what an upgrade must never do and cannot be "
                             "overridden (overridable: backup, certificates, disk-headroom, "
                             "replication-lag, max-disable-duration)");
    }
  }
  return Status::Ok();
}

}  // namespace coffer::upgrade
