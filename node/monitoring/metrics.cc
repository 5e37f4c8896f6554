#include "node/monitoring/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace coffer::node {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Registry;

// Client requests: from 0.1 ms (a cached read) to 10 s (a write stuck
// behind a slow fsync or a missing pair acknowledgement).
const Histogram::BucketBoundaries& RequestBuckets() {
  static const Histogram::BucketBoundaries* const kBuckets =
      new Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *kBuckets;
}

// Replication lag: from 1 ms (a healthy loopback link) to 60 s.
const Histogram::BucketBoundaries& LagBuckets() {
  static const Histogram::BucketBoundaries* const kBuckets = new Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *kBuckets;
}

const char* const kModes[] = {"read-write", "restricted", "read-only", "unavailable"};
const char* const kNodeStates[] = {"PENDING",  "ACTIVE",   "DISABLING",
                                   "DISABLED", "ENABLING", "EXPIRED"};

Family<Counter>& CounterFamily(Registry& registry, const std::string& name,
                               const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

Family<Gauge>& GaugeFamily(Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

Family<Histogram>& HistogramFamily(Registry& registry, const std::string& name,
                                   const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

// Durations and lags: negative values (clock skew) count as 0.
double NonNegative(double seconds) { return seconds < 0 ? 0 : seconds; }

std::string PeerLabel(uint32_t id) { return std::to_string(id); }

}  // namespace

NodeMetrics::NodeMetrics()
    : registry_(std::make_shared<Registry>()),
      requests_(CounterFamily(*registry_, "coffer_requests_total",
                              "Client requests answered, by request kind and response code.")),
      request_duration_(HistogramFamily(
          *registry_, "coffer_request_duration_seconds",
          "Time from receiving a client request to handing back its response, by kind.")),
      replication_lag_(HistogramFamily(
          *registry_, "coffer_replication_lag_seconds",
          "Time from a record's commit at its origin node to its application on this node.")),
      link_up_(GaugeFamily(*registry_, "coffer_link_up",
                           "1 if the link to the peer node is connected, else 0.")),
      link_heartbeat_lag_(GaugeFamily(*registry_, "coffer_link_heartbeat_lag_seconds",
                                      "Time since the peer node was last heard on its link.")),
      link_replication_lag_(
          GaugeFamily(*registry_, "coffer_link_replication_lag_seconds",
                      "How far this node's copy of the peer node's log is behind it.")),
      objects_(
          GaugeFamily(*registry_, "coffer_objects", "Live objects in this node's store.").Add({})),
      pending_critical_writes_(
          GaugeFamily(*registry_, "coffer_pending_critical_writes",
                      "Critical writes waiting for the pair peer's acknowledgement.")
              .Add({})),
      log_records_retained_(GaugeFamily(*registry_, "coffer_log_records_retained",
                                        "Replication log records this node retains for disabled "
                                        "members (what enabling them transfers).")
                                .Add({})),
      log_bytes_retained_(
          GaugeFamily(*registry_, "coffer_log_retained_bytes",
                      "Size of the log records this node retains for disabled members.")
              .Add({})),
      applied_records_(
          GaugeFamily(*registry_, "coffer_applied_records",
                      "Replicated records applied on this node, from every origin (the sum of "
                      "the applied vector).")
              .Add({})),
      replication_apply_errors_(
          CounterFamily(*registry_, "coffer_replication_apply_errors_total",
                        "Replicated records that could not be applied on this node.")
              .Add({})),
      unvouched_records_(
          GaugeFamily(*registry_, "coffer_replication_unvouched_records",
                      "Received records held until a signature of their origin vouches for them.")
              .Add({})),
      unverified_records_(
          CounterFamily(*registry_, "coffer_replication_unverified_records_total",
                        "Received records dropped because their origin's key was not known here "
                        "yet (sent again later).")
              .Add({})),
      withheld_material_records_(
          CounterFamily(*registry_, "coffer_replication_withheld_material_records_total",
                        "Creation records admitted without their material (the object's destroy "
                        "on its way, or a relay withholding material).")
              .Add({})),
      storage_free_bytes_(GaugeFamily(*registry_, "coffer_storage_free_bytes",
                                      "Free bytes on the filesystem of the node's data directory.")
                              .Add({})),
      storage_faults_(CounterFamily(*registry_, "coffer_storage_faults_total",
                                    "Times the store entered a storage fault (disk full, I/O "
                                    "error): writes refused until it resumed.")
                          .Add({})),
      integrity_alerts_(
          CounterFamily(*registry_, "coffer_integrity_alerts_total",
                        "Replicated records refused because their origin did not make them "
                        "(bad or missing signature) or because they differ from the record "
                        "applied at that seq.")
              .Add({})),
      clock_refusals_(CounterFamily(*registry_, "coffer_clock_refusals_total",
                                    "Replicated records refused because they were stamped more "
                                    "than the allowed clock offset ahead of this node's clock.")
                          .Add({})),
      upgrade_nodes_done_(GaugeFamily(*registry_, "coffer_upgrade_nodes_done",
                                      "Nodes of the rolling-upgrade plan that are done.")
                              .Add({})),
      build_info_(GaugeFamily(*registry_, "coffer_build_info",
                              "1, labelled with this node's release and the cluster versions "
                              "its binary runs.")),
      cluster_version_(GaugeFamily(*registry_, "coffer_cluster_version",
                                   "1, labelled with the cluster version as this node has it "
                                   "(the lowest member release it rose to).")),
      cluster_version_held_(GaugeFamily(*registry_, "coffer_cluster_version_held",
                                        "1 while an operator holds the cluster version "
                                        "(coffer cluster version hold).")
                                .Add({})) {
  Family<Gauge>& mode = GaugeFamily(
      *registry_, "coffer_node_mode",
      "1 for the node's current serving mode (read-write, restricted, read-only, unavailable).");
  for (const char* value : kModes) mode_.series.emplace(value, &mode.Add({{"mode", value}}));
  Family<Gauge>& state =
      GaugeFamily(*registry_, "coffer_node_state", "1 for the node's current membership state.");
  for (const char* value : kNodeStates) {
    state_.series.emplace(value, &state.Add({{"state", value}}));
  }
  Family<Gauge>& storage = GaugeFamily(
      *registry_, "coffer_storage_state",
      "1 for the state of the node's store: writable, storage-fault (a write or sync failed: "
      "writes refused, reads served) or resuming.");
  for (const char* value : {"writable", "storage-fault", "resuming"}) {
    storage_state_.series.emplace(value, &storage.Add({{"state", value}}));
  }
  SetEnum(storage_state_, "writable");
  Family<Gauge>& upgrade = GaugeFamily(
      *registry_, "coffer_upgrade_state",
      "1 for the state of the rolling-upgrade plan as this node has it (coffer upgrade status).");
  for (const char* value :
       {"RUNNING", "PAUSED", "DONE", "FINALIZED", "ABORTED", "ROLLING_BACK", "ROLLED_BACK"}) {
    upgrade_state_.series.emplace(value, &upgrade.Add({{"state", value}}));
  }
}

void NodeMetrics::SetStorage(std::string_view state, int64_t free_bytes) {
  SetEnum(storage_state_, state);
  if (free_bytes >= 0) storage_free_bytes_.Set(static_cast<double>(free_bytes));
}

void NodeMetrics::AddStorageFault() { storage_faults_.Increment(); }

void NodeMetrics::SetBuildInfo(std::string_view release, std::string_view min_cluster_version,
                               std::string_view max_cluster_version) {
  std::lock_guard lock(version_mu_);
  if (build_info_series_ != nullptr) build_info_.Remove(build_info_series_);
  build_info_series_ =
      &build_info_.Add({{"release", std::string(release)},
                        {"min_cluster_version", std::string(min_cluster_version)},
                        {"max_cluster_version", std::string(max_cluster_version)}});
  build_info_series_->Set(1);
}

void NodeMetrics::SetClusterVersion(std::string_view version, bool held) {
  cluster_version_held_.Set(held ? 1 : 0);
  std::lock_guard lock(version_mu_);
  if (version == cluster_version_value_) return;
  if (cluster_version_series_ != nullptr) cluster_version_.Remove(cluster_version_series_);
  cluster_version_series_ = nullptr;
  cluster_version_value_ = std::string(version);
  if (version.empty()) return;
  cluster_version_series_ = &cluster_version_.Add({{"version", std::string(version)}});
  cluster_version_series_->Set(1);
}

NodeMetrics::~NodeMetrics() = default;

void NodeMetrics::ObserveRequest(std::string_view kind, std::string_view code, double seconds) {
  Counter* count;
  Histogram* duration = nullptr;
  {
    // The series are looked up in our own maps: Family::Add would build (and
    // drop) a new histogram on every call.
    std::lock_guard<std::mutex> lock(series_mu_);
    std::string key;
    key.reserve(kind.size() + 1 + code.size());
    key.append(kind).push_back('\0');
    key.append(code);
    auto counter_it = request_counts_.find(key);
    if (counter_it == request_counts_.end()) {
      counter_it =
          request_counts_
              .emplace(std::move(key),
                       &requests_.Add({{"kind", std::string(kind)}, {"code", std::string(code)}}))
              .first;
    }
    count = counter_it->second;
    if (!std::isnan(seconds)) {
      auto duration_it = request_durations_.find(kind);
      if (duration_it == request_durations_.end()) {
        duration_it =
            request_durations_
                .emplace(std::string(kind),
                         &request_duration_.Add({{"kind", std::string(kind)}}, RequestBuckets()))
                .first;
      }
      duration = duration_it->second;
    }
  }
  count->Increment();
  if (duration != nullptr) duration->Observe(NonNegative(seconds));
}

void NodeMetrics::ObserveReplicationLag(uint32_t origin, double seconds) {
  if (std::isnan(seconds)) return;
  Histogram* lag;
  {
    std::lock_guard<std::mutex> lock(series_mu_);
    auto it = replication_lags_.find(origin);
    if (it == replication_lags_.end()) {
      it =
          replication_lags_
              .emplace(origin, &replication_lag_.Add({{"origin", PeerLabel(origin)}}, LagBuckets()))
              .first;
    }
    lag = it->second;
  }
  lag->Observe(NonNegative(seconds));
}

void NodeMetrics::SetLink(uint32_t peer, bool up, double heartbeat_lag_seconds,
                          double replication_lag_seconds) {
  std::lock_guard<std::mutex> lock(links_mu_);
  auto it = links_.find(peer);
  if (it == links_.end()) {
    prometheus::Labels labels{{"peer", PeerLabel(peer)}};
    it = links_
             .emplace(peer, LinkSeries{&link_up_.Add(labels), &link_heartbeat_lag_.Add(labels),
                                       &link_replication_lag_.Add(labels)})
             .first;
  }
  it->second.up->Set(up ? 1 : 0);
  it->second.heartbeat_lag->Set(heartbeat_lag_seconds);
  it->second.replication_lag->Set(replication_lag_seconds);
}

void NodeMetrics::RemoveLink(uint32_t peer) {
  std::lock_guard<std::mutex> lock(links_mu_);
  auto it = links_.find(peer);
  if (it == links_.end()) return;
  link_up_.Remove(it->second.up);
  link_heartbeat_lag_.Remove(it->second.heartbeat_lag);
  link_replication_lag_.Remove(it->second.replication_lag);
  links_.erase(it);
}

void NodeMetrics::SetEnum(EnumGauge& gauge, std::string_view value) {
  std::lock_guard<std::mutex> lock(gauge.mu);
  for (auto& [name, series] : gauge.series) series->Set(name == value ? 1 : 0);
}

void NodeMetrics::SetMode(std::string_view mode) { SetEnum(mode_, mode); }

void NodeMetrics::SetNodeState(std::string_view state) { SetEnum(state_, state); }

void NodeMetrics::SetObjects(uint64_t count) { objects_.Set(static_cast<double>(count)); }

void NodeMetrics::SetUpgrade(std::string_view state, uint64_t nodes_done) {
  SetEnum(upgrade_state_, state);
  upgrade_nodes_done_.Set(static_cast<double>(nodes_done));
}

void NodeMetrics::SetPendingCriticalWrites(uint64_t count) {
  pending_critical_writes_.Set(static_cast<double>(count));
}

void NodeMetrics::SetLogRecordsRetained(uint64_t count) {
  log_records_retained_.Set(static_cast<double>(count));
}

void NodeMetrics::SetLogBytesRetained(uint64_t bytes) {
  log_bytes_retained_.Set(static_cast<double>(bytes));
}

void NodeMetrics::SetAppliedRecords(uint64_t count) {
  applied_records_.Set(static_cast<double>(count));
}

void NodeMetrics::AddReplicationApplyErrors(uint64_t count) {
  replication_apply_errors_.Increment(static_cast<double>(count));
}

void NodeMetrics::SetUnvouchedRecords(uint64_t count) {
  unvouched_records_.Set(static_cast<double>(count));
}

void NodeMetrics::AddUnverifiedRecords(uint64_t count) {
  unverified_records_.Increment(static_cast<double>(count));
}

void NodeMetrics::AddWithheldMaterialRecords(uint64_t count) {
  withheld_material_records_.Increment(static_cast<double>(count));
}

void NodeMetrics::AddIntegrityAlerts(uint64_t count) {
  integrity_alerts_.Increment(static_cast<double>(count));
}

void NodeMetrics::AddClockRefusals(uint64_t count) {
  clock_refusals_.Increment(static_cast<double>(count));
}

std::string NodeMetrics::Render() const {
  try {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
  } catch (const std::exception& e) {
    // Not expected (the names are fixed and valid); a comment line keeps the
    // output valid for scrapers.
    std::string message = e.what();
    for (char& c : message) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return "# coffer: cannot render metrics: " + message + "\n";
  }
}

}  // namespace coffer::node
