// Drives one workload against a BenchCluster and measures it into a
// LoadResult (bench/load/load_result.h): one thread per client with one
// CofferClient connection that keeps --in-flight K requests outstanding
// (pipelined: Send / Receive, latency from each request's Send to its
// Receive), or with --in-flight-mode connections one thread and connection
// per client and in-flight slot, one request outstanding on each; a
// warm-up, then the measured window; node CPU and RSS (with RSS over time),
// records applied per second and replication lag over that window.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/coffer_bench/bench_cluster.h"
#include "bench/coffer_bench/options.h"
#include "bench/coffer_bench/proc_usage.h"
#include "bench/load/load_result.h"

namespace coffer::bench {

// Objects written before a read, mix or locate run.
struct PreparedObjects {
  std::vector<std::string> uuids;
  std::vector<std::string> names;
};

// How often the lag probe samples a write, and how it polls.
inline constexpr std::chrono::milliseconds kLagSampleInterval{200};
inline constexpr std::chrono::milliseconds kLagPollInterval{1};
// A sampled record not applied everywhere by then counts as a lag timeout.
inline constexpr std::chrono::seconds kLagTimeout{10};

// What a run adds to its LoadResult.
struct RunExtras {
  uint64_t lag_timeouts = 0;  // sampled records not seen everywhere in time
  RssTimeline rss;            // of LoadResult::processes, same order
  // Client connections the workers opened (reconnections included; not the
  // lag probe's): clients with pipelining, clients x in-flight without.
  uint64_t connections_opened = 0;
};

// Receives one line a second while the window runs ("" at the end).
using LiveLine = std::function<void(const std::string&)>;

// Writes options.prepare secrets (names "<run>-p<i>") through the read-write
// nodes and waits until every node has applied them (deadline 60 s).
StatusOr<PreparedObjects> PrepareObjects(BenchCluster& cluster, const BenchOptions& options,
                                         const std::string& run_id);

// Runs the workload. `result.system` is "coffer"; processes are the nodes
// with a known pid. Fails only if no connection can be made; errors of
// single operations are counted by code in result.errors. `measure_lag`
// false: no lag probe (a run with a node that does not apply, such as a
// disabled one).
StatusOr<LoadResult> RunCofferLoad(BenchCluster& cluster, const BenchOptions& options,
                                   const PreparedObjects& prepared, const std::string& run_id,
                                   const LiveLine& live, RunExtras* extras,
                                   bool measure_lag = true);

// A short random id ("b1a2c3d4") that keeps names of different runs apart.
std::string NewRunId();

}  // namespace coffer::bench
