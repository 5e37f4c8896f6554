// NodeMetrics: the node's Prometheus metrics (prometheus-cpp core), rendered
// in the text exposition format by Render() for the HTTP endpoint.
//
// Every method is thread-safe and never blocks for long (a short mutex at
// most); call them from any thread. Values are durations in seconds, counts
// as plain numbers. Series exist from construction (at 0) except those keyed
// by a label whose values are not known in advance (request kind and code,
// origin, peer), which appear on first use (a metric without any series is
// not rendered at all).
//
// Label values must come from small, bounded sets (request kinds, stable
// Status code names, node ids): every distinct value is a series kept for
// the life of the object (except links, see RemoveLink).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace coffer::node {

class NodeMetrics {
 public:
  NodeMetrics();
  ~NodeMetrics();
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // One client request of `kind` (e.g. "Get") answered with `code` (a
  // CodeName, e.g. "OK") after `seconds`: counts it in
  // coffer_requests_total{kind,code} and observes the duration in
  // coffer_request_duration_seconds{kind} (buckets 0.1 ms .. 10 s). Negative
  // durations count as 0; NaN durations are counted but not observed.
  void ObserveRequest(std::string_view kind, std::string_view code, double seconds);

  // One replicated record from node `origin` applied here, `seconds` after
  // its commit at the origin: coffer_replication_lag_seconds{origin} (buckets
  // 1 ms .. 60 s). Negative lags (clock skew) count as 0; NaN is ignored.
  void ObserveReplicationLag(uint32_t origin, double seconds);

  // The state of the link to `peer`: coffer_link_up{peer} (1 or 0),
  // coffer_link_heartbeat_lag_seconds{peer} (time since the peer was last
  // heard) and coffer_link_replication_lag_seconds{peer} (how far this node's
  // view of the peer's log is behind). Creates the series on first use.
  void SetLink(uint32_t peer, bool up, double heartbeat_lag_seconds,
               double replication_lag_seconds);
  // Removes the three link series of `peer` (e.g. the node left the
  // cluster). No-op if there are none. Atomic with respect to SetLink.
  void RemoveLink(uint32_t peer);

  // coffer_node_mode{mode} is 1 for `mode` and 0 for the others among
  // "read-write", "restricted", "read-only", "unavailable". Any other value
  // sets all four to 0.
  void SetMode(std::string_view mode);
  // coffer_node_state{state} is 1 for `state` and 0 for the others among
  // "PENDING", "ACTIVE", "DISABLING", "DISABLED", "ENABLING", "EXPIRED". Any
  // other value sets all six to 0.
  void SetNodeState(std::string_view state);
  // coffer_upgrade_state{state} is 1 for the upgrade plan's state (RUNNING,
  // PAUSED, DONE, FINALIZED, ABORTED, ROLLING_BACK, ROLLED_BACK; all 0 with
  // no plan), and coffer_upgrade_nodes_done counts its nodes done.
  void SetUpgrade(std::string_view state, uint64_t nodes_done);

  // coffer_objects: live objects in the store.
  void SetObjects(uint64_t count);
  // coffer_pending_critical_writes: critical writes waiting for the pair
  // peer's acknowledgement.
  void SetPendingCriticalWrites(uint64_t count);
  // coffer_log_records_retained: replication log records kept on disk.
  void SetLogRecordsRetained(uint64_t count);
  // coffer_log_retained_bytes: their size in bytes.
  void SetLogBytesRetained(uint64_t bytes);
  // coffer_applied_records: the sum of the applied vector (records applied
  // here, from every origin).
  void SetAppliedRecords(uint64_t count);
  // coffer_replication_apply_errors_total += count.
  void AddReplicationApplyErrors(uint64_t count);
  // coffer_integrity_alerts_total += count (replication/README.md, records
  // authenticated by their origin).
  void AddIntegrityAlerts(uint64_t count);
  // coffer_clock_refusals_total += count (records stamped too far ahead).
  void AddClockRefusals(uint64_t count);
  // Origin authentication at work (NodeStatus fields of the same names):
  // coffer_replication_unvouched_records (held now for a signature),
  // coffer_replication_unverified_records_total += unverified (origin's key
  // not known yet), coffer_replication_withheld_material_records_total +=
  // withheld (creations admitted without material).
  void SetUnvouchedRecords(uint64_t count);
  void AddUnverifiedRecords(uint64_t count);
  void AddWithheldMaterialRecords(uint64_t count);

  // Storage faults (docs/storage-faults.md): coffer_storage_state{state} is 1
  // for `state` and 0 for the others among "writable", "storage-fault",
  // "resuming"; coffer_storage_free_bytes is the free space of the data
  // directory's filesystem (not set while unknown: negative).
  void SetStorage(std::string_view state, int64_t free_bytes);
  // coffer_storage_faults_total += 1: the store entered a fault.
  void AddStorageFault();

  // coffer_build_info{release,min_cluster_version,max_cluster_version} 1:
  // what this node's binary is and the cluster versions it runs.
  void SetBuildInfo(std::string_view release, std::string_view min_cluster_version,
                    std::string_view max_cluster_version);
  // coffer_cluster_version{version} 1 for the cluster version as this node
  // has it (one series; "" removes it), and coffer_cluster_version_held 0/1.
  void SetClusterVersion(std::string_view version, bool held);

  // Every metric in the Prometheus text exposition format (version 0.0.4;
  // serve it as "text/plain; version=0.0.4; charset=utf-8"). Never throws.
  std::string Render() const;

 private:
  struct LinkSeries {
    prometheus::Gauge* up;
    prometheus::Gauge* heartbeat_lag;
    prometheus::Gauge* replication_lag;
  };
  // A gauge family used as an enum: one series per known value, exactly one
  // of them 1 (or none, for an unknown value).
  struct EnumGauge {
    std::mutex mu;
    std::map<std::string, prometheus::Gauge*, std::less<>> series;  // by value
  };
  static void SetEnum(EnumGauge& gauge, std::string_view value);

  const std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Histogram>& replication_lag_;
  prometheus::Family<prometheus::Gauge>& link_up_;
  prometheus::Family<prometheus::Gauge>& link_heartbeat_lag_;
  prometheus::Family<prometheus::Gauge>& link_replication_lag_;

  prometheus::Gauge& objects_;
  prometheus::Gauge& pending_critical_writes_;
  prometheus::Gauge& log_records_retained_;
  prometheus::Gauge& log_bytes_retained_;
  prometheus::Gauge& applied_records_;
  prometheus::Counter& replication_apply_errors_;
  prometheus::Gauge& unvouched_records_;
  prometheus::Counter& unverified_records_;
  prometheus::Counter& withheld_material_records_;
  prometheus::Gauge& storage_free_bytes_;
  prometheus::Counter& storage_faults_;
  prometheus::Counter& integrity_alerts_;
  prometheus::Counter& clock_refusals_;

  // Series already created, so that the hot paths do not go through
  // Family::Add. GUARDED_BY(series_mu_).
  std::mutex series_mu_;
  std::map<std::string, prometheus::Counter*, std::less<>> request_counts_;       // "kind\0code"
  std::map<std::string, prometheus::Histogram*, std::less<>> request_durations_;  // by kind
  std::map<uint32_t, prometheus::Histogram*> replication_lags_;                   // by origin

  EnumGauge mode_;
  EnumGauge state_;
  EnumGauge storage_state_;
  EnumGauge upgrade_state_;
  prometheus::Gauge& upgrade_nodes_done_;

  prometheus::Family<prometheus::Gauge>& build_info_;
  prometheus::Family<prometheus::Gauge>& cluster_version_;
  prometheus::Gauge& cluster_version_held_;
  std::mutex version_mu_;
  prometheus::Gauge* build_info_series_ = nullptr;       // GUARDED_BY(version_mu_)
  prometheus::Gauge* cluster_version_series_ = nullptr;  // GUARDED_BY(version_mu_)
  std::string cluster_version_value_;                    // GUARDED_BY(version_mu_)

  std::mutex links_mu_;
  std::map<uint32_t, LinkSeries> links_;  // GUARDED_BY(links_mu_)
};

}  // namespace coffer::node
