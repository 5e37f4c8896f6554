// The monitoring endpoint's pages built from the node's own status, and the
// one mapping from a node's state and write mode to its health: /health
// (an HTTP code per condition), /readyz and /metrics. /livez and /status
// are the node's (node/node.cc): /livez answers on the network thread, and
// /status gathers the other members (cluster_gather.h).
#pragma once

#include <cstdint>
#include <set>
#include <string_view>

#include "common/clock.h"
#include "node/api/request_handler.h"
#include "node/monitoring/health.h"
#include "node/monitoring/metrics.h"
#include "node/net/http_endpoint.h"
#include "proto/api.pb.h"
#include "storage/object_store.h"

namespace coffer::node {

// Whether `path` is a page this endpoint serves besides /livez:
// /metrics, /readyz, /health or /status.
bool IsStatusPage(std::string_view path);
// The 404 answer for any other path.
HttpReply NoSuchPage();

// This node's view of the cluster, as `cluster status` asks it (as an
// internal admin). Store thread: it reads the store.
pb::ClusterStatus LocalClusterStatus(storage::ObjectStore& store, const NodeInfo& info,
                                     const Clock& clock);

// Builds /readyz, /health and /metrics from the node's cluster status.
// Keeps which peers have link series in `metrics`, so a peer that left loses
// them. Not thread-safe: one caller thread (the node's store thread).
class StatusPages {
 public:
  explicit StatusPages(NodeMetrics& metrics) : metrics_(metrics) {}

  // `page` is /readyz, /health or /metrics (anything else is answered as
  // /metrics). `apply_errors` is the replicator's count of remote records it
  // could not apply so far (0 for a standalone node).
  HttpReply Page(std::string_view page, const pb::ClusterStatus& cluster, uint64_t apply_errors);

  // Sets the gauges from `cluster` (counters and histograms are updated as
  // things happen) and adds the apply errors counted since the last call.
  void UpdateMetrics(const pb::ClusterStatus& cluster, uint64_t apply_errors);

 private:
  NodeMetrics& metrics_;
  std::set<uint32_t> metric_links_;  // peers with link series
  uint64_t apply_errors_counted_ = 0;
  uint64_t integrity_alerts_counted_ = 0;  // NodeStatus.integrity_alerts
  uint64_t clock_refusals_counted_ = 0;    // NodeStatus.clock_refusals
  uint64_t unverified_counted_ = 0;        // NodeStatus.unverified_records
  uint64_t withheld_counted_ = 0;          // NodeStatus.withheld_material_records
};

}  // namespace coffer::node
