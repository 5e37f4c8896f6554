#include "node/monitoring/status_pages.h"

#include <nlohmann/json.hpp>
#include <string>

#include "upgrade/orchestrator/plan_builder.h"

namespace coffer::node {

bool IsStatusPage(std::string_view path) {
  return path == "/metrics" || path == "/readyz" || path == "/health" || path == "/status";
}

HttpReply NoSuchPage() {
  return HttpReply{404, "text/plain; charset=utf-8",
                   "no such page; try /metrics /livez /readyz /health /status\n"};
}

pb::ClusterStatus LocalClusterStatus(storage::ObjectStore& store, const NodeInfo& info,
                                     const Clock& clock) {
  pb::Request request;
  request.mutable_cluster_status();
  const ClientIdentity internal{"http-endpoint", std::string(kAdminRole), ""};
  pb::Response response =
      HandleRequest(store, request, internal, info, storage::Durability::kSync, clock);
  return response.cluster_status();
}

HttpReply StatusPages::Page(std::string_view page, const pb::ClusterStatus& cluster,
                            uint64_t apply_errors) {
  const pb::NodeStatus& self = cluster.self();
  if (page == "/readyz") {
    bool ready = IsReady(self);
    return HttpReply{
        ready ? 200 : 503, "text/plain; charset=utf-8",
        ready ? "ready\n"
        : StorageFaulted(self)
            ? "not ready: " + self.storage_state() + " (" + self.storage_fault() + ")\n"
            : "not ready: " + self.mode() +
                  (self.mode_reason().empty() ? "" : " (" + self.mode_reason() + ")") + "\n"};
  }
  if (page == "/health") {
    Health health = HealthOf(self);
    nlohmann::json body = {
        {"node", self.node_name()},
        {"health", health.verdict},
        {"mode", self.mode()},
        {"state", self.state()},
        {"reason", self.mode_reason()},
        {"storage", self.storage_state().empty() ? std::string("writable") : self.storage_state()},
        {"storage_fault", self.storage_fault()}};
    return HttpReply{health.code, "application/json", body.dump() + "\n"};
  }
  UpdateMetrics(cluster, apply_errors);
  return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Render()};
}

void StatusPages::UpdateMetrics(const pb::ClusterStatus& cluster, uint64_t apply_errors) {
  const pb::NodeStatus& self = cluster.self();
  metrics_.SetMode(self.mode());
  metrics_.SetNodeState(self.state().empty() ? "ACTIVE" : self.state());
  metrics_.SetStorage(self.storage_state().empty() ? "writable" : self.storage_state(),
                      self.storage_free_bytes());
  metrics_.SetObjects(self.object_count());
  const pb::VersionView& versions = cluster.versions();
  metrics_.SetBuildInfo(versions.binary_release(), versions.min_cluster_version(),
                        versions.max_cluster_version());
  metrics_.SetClusterVersion(versions.cluster_version(), versions.held());
  uint64_t upgrade_done = 0;
  for (const auto& n : cluster.upgrade().nodes()) upgrade_done += n.step() == pb::STEP_DONE;
  metrics_.SetUpgrade(
      cluster.has_upgrade() ? upgrade::PlanStateName(cluster.upgrade().state()) : "", upgrade_done);
  metrics_.SetPendingCriticalWrites(self.pending_critical_writes());
  uint64_t applied = 0;
  for (const auto& [origin, seq] : self.applied().applied()) applied += seq;
  metrics_.SetAppliedRecords(applied);
  uint64_t retained_records = 0, retained_bytes = 0;
  for (const auto& m : cluster.members()) {
    retained_records += m.retained_records();
    retained_bytes += m.retained_bytes();
  }
  metrics_.SetLogRecordsRetained(retained_records);
  metrics_.SetLogBytesRetained(retained_bytes);
  std::set<uint32_t> seen;
  for (const auto& l : self.links()) {
    seen.insert(l.peer());
    double heartbeat_lag = l.last_heard_ms_ago() < 0 ? 0 : l.last_heard_ms_ago() / 1000.0;
    metrics_.SetLink(l.peer(), l.up(), heartbeat_lag, l.replication_lag_ms() / 1000.0);
  }
  for (uint32_t gone : metric_links_) {
    if (!seen.contains(gone)) metrics_.RemoveLink(gone);
  }
  metric_links_ = std::move(seen);
  if (apply_errors > apply_errors_counted_) {
    metrics_.AddReplicationApplyErrors(apply_errors - apply_errors_counted_);
    apply_errors_counted_ = apply_errors;
  }
  metrics_.SetUnvouchedRecords(self.unvouched_records());
  if (self.unverified_records() > unverified_counted_) {
    metrics_.AddUnverifiedRecords(self.unverified_records() - unverified_counted_);
    unverified_counted_ = self.unverified_records();
  }
  if (self.withheld_material_records() > withheld_counted_) {
    metrics_.AddWithheldMaterialRecords(self.withheld_material_records() - withheld_counted_);
    withheld_counted_ = self.withheld_material_records();
  }
  if (self.integrity_alerts() > integrity_alerts_counted_) {
    metrics_.AddIntegrityAlerts(self.integrity_alerts() - integrity_alerts_counted_);
    integrity_alerts_counted_ = self.integrity_alerts();
  }
  if (self.clock_refusals() > clock_refusals_counted_) {
    metrics_.AddClockRefusals(self.clock_refusals() - clock_refusals_counted_);
    clock_refusals_counted_ = self.clock_refusals();
  }
}

}  // namespace coffer::node
