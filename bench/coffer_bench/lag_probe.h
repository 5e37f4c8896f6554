// Replication lag as coffer-bench measures it: a few times a second
// (the sample interval) one write that a worker just had acknowledged is
// taken as a sample: from its acknowledgement (by then the origin has
// committed the record and its pair peer has it durably) until every node
// serves the object it created (a get by uuid answers OK instead of
// NOT_FOUND: the record is applied there), asking each node that has not
// got it yet every poll interval. A get is a point read, so polling does not
// load the nodes the way a status request (which sizes the log) would.
// Each sample is an upper bound. Resolution: one get round trip (~0.2 ms
// on an idle loopback node, longer when the get waits behind writes) plus
// the poll interval.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/coffer_bench/bench_cluster.h"

namespace coffer::bench {

class LagProbe {
 public:
  using Clock = std::chrono::steady_clock;

  LagProbe(BenchCluster& cluster, std::chrono::milliseconds sample_interval,
           std::chrono::milliseconds poll_interval, std::chrono::milliseconds timeout);
  ~LagProbe();  // Stop()

  // Called by a worker after each acknowledged write that names its record;
  // costs one relaxed atomic load unless the probe wants a sample.
  void Offer(const std::string& uuid, Clock::time_point acked) {
    if (!wanted_.load(std::memory_order_relaxed) || !wanted_.exchange(false)) return;
    std::lock_guard<std::mutex> lock(mu_);
    offered_ = Offered{uuid, acked};
  }

  // Starts the probe thread; samples are taken only while measuring.
  void Start();
  void SetMeasuring(bool measuring) { measuring_ = measuring; }
  // Ends the probe thread; a sample in progress is finished first (within
  // the timeout) unless Ctrl-C arrived.
  void Stop();

  // After Stop(): lag samples in microseconds, and samples that timed out.
  const std::vector<uint32_t>& samples() const { return samples_; }
  uint64_t timeouts() const { return timeouts_; }

 private:
  struct Offered {
    std::string uuid;  // the object the write created
    Clock::time_point acked;
  };
  void Loop();
  // Polls every node until each serves the object; the lag, or nullopt
  // (stopped, or timed out: counted).
  std::optional<uint32_t> Measure(const Offered& sample);
  // Whether node `index` serves object `uuid` (a failed poll: false).
  bool HasObject(size_t index, const std::string& uuid);

  BenchCluster& cluster_;
  const std::chrono::milliseconds sample_interval_, poll_interval_, timeout_;
  std::vector<std::unique_ptr<node::CofferClient>> clients_;  // one per node, probe thread only
  std::atomic<bool> wanted_{false};
  std::atomic<bool> measuring_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::optional<Offered> offered_;
  std::vector<uint32_t> samples_;
  uint64_t timeouts_ = 0;
  std::thread thread_;
};

}  // namespace coffer::bench
