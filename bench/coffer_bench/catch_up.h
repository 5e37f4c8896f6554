// coffer-bench --catch-up N (P4 of issue 12): how fast a re-enabled node
// catches up on what it missed, next to the raw RocksDB ingest rate of the
// same records (bench/README.md, "Catch-up").
//
// On a local cluster with a read-only node: disable that node (the node
// state op `coffer node disable` sends, on a read-write node), wait until it
// reports DISABLED, write N records with the write workload (--clients,
// --in-flight, --value-size; the count of successes ends the phase; no lag
// probe, the disabled node applies nothing), write one marker object on
// each read-write node (the newest record of its origin), then read every
// other node's applied vector (the target: per origin, the highest), send
// the enable (the op `coffer node enable` sends, on the disabled node
// itself) and poll that node over one connection every kCatchUpPollInterval:
// a get of each marker until it serves them all (it answers UNAVAILABLE
// until ACTIVE), then its status until it reports ACTIVE with an applied
// vector covering the target. The catch-up time runs from just before the
// enable is sent to the answer of the get that found the last marker, if
// the status check that follows confirms both (else to the status answer
// that does): an upper bound, late by at most one poll interval plus the
// round trips of one round of marker gets (the largest is reported).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/coffer_bench/bench_cluster.h"
#include "bench/coffer_bench/load_driver.h"
#include "bench/coffer_bench/options.h"
#include "bench/coffer_bench/report.h"

namespace coffer::bench {

inline constexpr std::chrono::milliseconds kCatchUpPollInterval{10};
// How long the disable may take to reach DISABLED.
inline constexpr std::chrono::seconds kDisableTimeout{60};
// The catch-up deadline: this, plus kCatchUpDeadlinePerRecord per record
// the node missed (1 ms: a node slower than 1000 records/s fails the run).
inline constexpr std::chrono::seconds kCatchUpBaseTimeout{60};
inline constexpr std::chrono::microseconds kCatchUpDeadlinePerRecord{1000};

struct CatchUpResult {
  std::string node;             // the node disabled and enabled again
  SystemRun writes;             // the phase that wrote the records it missed
  uint64_t records_missed = 0;  // sum over origins of target - its applied at the enable
  double seconds = 0;           // enable sent to ACTIVE with the target applied
  // When the last marker get that found it not done was sent: the catch-up
  // ended after this (seconds is the upper bound).
  double lower_bound_seconds = 0;
  double max_poll_round_trip_ms = 0;  // of the marker gets
  uint64_t polls = 0;                 // marker gets sent
  double status_round_trip_ms = 0;    // of the last status check
  std::string state_after;            // the state of the last status answer ("ACTIVE")
  double RecordsPerSecond() const { return seconds > 0 ? records_missed / seconds : 0; }

  // The raw ingest of the same count (filled by the caller, after the
  // cluster has stopped).
  uint64_t raw_records = 0;
  size_t raw_batch_records = 0;
  double raw_seconds = 0;
  double RawRecordsPerSecond() const { return raw_seconds > 0 ? raw_records / raw_seconds : 0; }
  double Ratio() const {
    return RawRecordsPerSecond() > 0 ? RecordsPerSecond() / RawRecordsPerSecond() : 0;
  }
};

// Runs the catch-up on `cluster` (the last read-only node is the one
// disabled). INVALID_STATE if the cluster has no read-only node or no
// read-write node; UNAVAILABLE (naming the node and its log) if the disable
// or the catch-up does not finish by its deadline, or a request fails.
StatusOr<CatchUpResult> RunCatchUp(BenchCluster& cluster, const BenchOptions& options,
                                   const std::function<void(const std::string&)>& progress,
                                   const LiveLine& live);

nlohmann::json CatchUpJson(const CatchUpResult& result);
std::string CatchUpTable(const CatchUpResult& result);

}  // namespace coffer::bench
