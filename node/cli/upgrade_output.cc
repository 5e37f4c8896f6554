#include "node/cli/upgrade_output.h"

#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::node::cli {
namespace {

std::string Ago(int64_t then_micros, int64_t now_micros) {
  if (then_micros == 0) return "-";
  return std::to_string((now_micros - then_micros) / 1'000'000) + " s";
}

const google::protobuf::RepeatedPtrField<pb::UpgradeNode>& ActiveList(const pb::UpgradePlan& p) {
  return p.state() == pb::UPGRADE_ROLLING_BACK ||
                 (p.rollback_size() > 0 && p.state() != pb::UPGRADE_RUNNING)
             ? p.rollback()
             : p.nodes();
}

}  // namespace

std::string RenderUpgradeChecks(const std::vector<pb::UpgradeCheck>& checks) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : checks) {
    rows.push_back(
        {c.overridden() ? "OVERRIDDEN" : (c.passed() ? "PASS" : "FAIL"), c.name(), c.observed()});
  }
  return RenderTable({"RESULT", "CHECK", "OBSERVED"}, rows);
}

std::string RenderUpgradePlan(const pb::UpgradePlan& plan, OutputFormat format) {
  if (format == OutputFormat::kJson) return RenderJson(plan);
  const int64_t now = plan.updated_micros();
  std::vector<std::pair<std::string, std::string>> fields = {
      {"plan", plan.plan_id()},
      {"state", upgrade::PlanStateName(plan.state())},
      {"from", plan.from_release() + " (cluster version " + plan.from_cluster_version() + ")"},
      {"to", plan.to_release()},
      {"binary", plan.binary()},
      {"orchestrator", plan.owner()},
      {"revision", std::to_string(plan.revision())},
  };
  if (plan.overrides_size() > 0) {
    std::string o;
    for (const auto& name : plan.overrides()) o += (o.empty() ? "" : ", ") + name;
    fields.push_back({"overridden", o});
  }
  if (plan.pause_requested()) fields.push_back({"requested", "pause"});
  if (plan.abort_requested()) fields.push_back({"requested", "abort"});
  if (plan.state() == pb::UPGRADE_PAUSED && plan.has_pause()) {
    fields.push_back({"paused at", "check " + plan.pause().check() + ", node " +
                                       std::to_string(plan.pause().node_id()) + ", step " +
                                       upgrade::StepName(plan.pause().step())});
    fields.push_back({"observed", plan.pause().observed()});
  }
  std::string out = RenderFields(fields) + "\n";
  auto node_rows = [&](const google::protobuf::RepeatedPtrField<pb::UpgradeNode>& list) {
    std::vector<std::vector<std::string>> rows;
    int i = 0;
    for (const auto& n : list) {
      rows.push_back({std::to_string(++i), n.name(), std::to_string(n.node_id()),
                      upgrade::StepName(n.step()),
                      n.step() == pb::STEP_DONE || n.step() == pb::STEP_PENDING
                          ? "-"
                          : Ago(n.step_started_micros(), now),
                      std::to_string(n.stops()), n.old_binary().empty() ? "-" : n.old_binary()});
    }
    return RenderTable({"#", "NODE", "ID", "STEP", "IN STEP", "STOPS", "OLD BINARY"}, rows);
  };
  out += node_rows(plan.nodes());
  if (plan.rollback_size() > 0) out += "\nrollback (newest first):\n" + node_rows(plan.rollback());
  if (plan.checks_size() > 0) {
    out += "\npre-checks at start:\n" +
           RenderUpgradeChecks({plan.checks().begin(), plan.checks().end()});
  }
  return out;
}

std::string UpgradeProgressLine(const pb::UpgradePlan& plan, const upgrade::Decision& d,
                                int64_t now_micros) {
  const auto& list = ActiveList(plan);
  int done = 0;
  const pb::UpgradeNode* current = nullptr;
  for (const auto& n : list) {
    if (n.step() == pb::STEP_DONE) {
      ++done;
    } else if (current == nullptr) {
      current = &n;
    }
  }
  std::string line = upgrade::PlanStateName(plan.state()) + " [" + std::to_string(done) + "/" +
                     std::to_string(list.size()) + "]";
  if (current != nullptr) {
    line += " " + current->name() + " " + upgrade::StepName(current->step()) + " " +
            Ago(current->step_started_micros(), now_micros);
  }
  if (d.action != upgrade::Action::kWait && d.action != upgrade::Action::kPersist &&
      d.action != upgrade::Action::kFinished) {
    line += ": " + std::string(upgrade::ActionName(d.action));
  } else if (!d.waiting_for.empty()) {
    line += ": waiting for " + d.waiting_for;
  }
  return line;
}

}  // namespace coffer::node::cli
