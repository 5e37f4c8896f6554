// What one load run against one system measured: the shared result type of
// coffer-bench (bench/README.md). Coffer runs, the etcd peer and the raw
// RocksDB baseline all fill it, so one printer and one JSON writer show them
// side by side. Header-only, no dependencies beyond the standard library.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace coffer::bench {

// How a load is driven; the same values for every system of one run.
struct LoadShape {
  int clients = 1;                           // concurrent clients (one connection each)
  int in_flight = 1;                         // requests outstanding per client
  size_t value_size = 256;                   // bytes of each value written
  std::chrono::milliseconds warmup{1000};    // not measured
  std::chrono::milliseconds duration{5000};  // measured window
  uint64_t max_ops = 0;                      // stop after this many ops in the window; 0 = none
};

// Resource use of one process over the measured window.
struct ProcessUsage {
  std::string name;        // "coffer node alpha", "etcd m1", "raw baseline"
  double cpu_seconds = 0;  // user + system, during the window
  uint64_t rss_start_bytes = 0;
  uint64_t rss_end_bytes = 0;
  uint64_t rss_max_bytes = 0;  // of the samples taken during the window
};

struct LoadResult {
  std::string system;    // "coffer", "etcd", "raw"
  std::string workload;  // "write", "read", "mix", "locate", "put"
  LoadShape shape;
  double seconds = 0;   // length of the measured window
  uint64_t ok_ops = 0;  // operations that succeeded in the window
  // Operations that failed in the window, by stable code ("UNAVAILABLE",
  // "OUTCOME_UNKNOWN", "HTTP_503", "TIMEOUT", ...).
  std::map<std::string, uint64_t> errors;
  // One latency per successful operation in the window, microseconds,
  // unsorted.
  std::vector<uint32_t> latencies_us;
  // Records applied per second summed over every store (replicas included):
  // what the raw baseline's efficiency ratio compares. 0 if not known.
  double records_applied_per_second = 0;
  // Replication lag samples (commit at the origin to applied on another
  // node), microseconds; empty where not measured.
  std::vector<uint32_t> replication_lag_us;
  std::vector<ProcessUsage> processes;
  double OpsPerSecond() const { return seconds > 0 ? ok_ops / seconds : 0; }
};

}  // namespace coffer::bench
