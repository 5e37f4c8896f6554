// What coffer-bench prints: the table on stdout, and the one JSON document
// of -o json (every LoadResult with its percentiles computed, the cluster
// shape and the options).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/coffer_bench/options.h"
#include "bench/coffer_bench/proc_usage.h"
#include "bench/load/load_result.h"

namespace coffer::bench {

// One system's result and what only coffer-bench knows about its run.
struct SystemRun {
  LoadResult result;
  uint64_t lag_timeouts = 0;
  RssTimeline rss;                  // coffer runs: RSS over the window, per process
  uint64_t connections_opened = 0;  // coffer runs: RunExtras::connections_opened
};

// One --scale step: the cluster shape and its run.
struct ScalePoint {
  int nodes = 0;
  int pairs = 0;
  int read_only = 0;
  SystemRun run;
};

nlohmann::json OptionsJson(const BenchOptions& options);
// Every field of `run.result` except the raw samples, plus "latency_us" and
// "replication_lag_us" as {count, p50, p90, p99, p999, max, mean} and
// "ops_per_second"; each process with "cpu_percent" of one core and, where
// sampled, "rss_samples_bytes" (RSS over time, every
// "rss_sample_interval_ms" of the result); coffer runs also with
// "connections_opened".
nlohmann::json ResultJson(const SystemRun& run);

// The result table: a row per system; then node CPU and RSS (and a line
// per node of RSS over time, in MiB), errors by code
// and, with more than one system, the ratios of coffer to each other system
// (throughput, p99; with "raw": the efficiency of records applied per
// second).
std::string ResultTable(const std::vector<SystemRun>& runs);

// The --scale table: nodes, shape, throughput, p99 latency, lag p50 and p99.
std::string ScaleTable(const std::vector<ScalePoint>& points);
// The --scale plot: throughput by nodes, and lag p50/p99 by nodes.
std::string ScaleSvg(const std::vector<ScalePoint>& points, const std::string& workload);

}  // namespace coffer::bench
