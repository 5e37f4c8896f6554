// The properties coffer-chaos checks after every run, on every node
// (quality.md "Reliability"; tests/chaos/README.md lists them with what each
// reads). Each check gives PASS or FAIL, its figures, and up to 10 failures
// naming the node, the request id and what was seen.
//
// Checks after healing (the cluster converged or given 10 s to):
//  - convergence: every node the same digest and applied vector within 10 s;
//  - no-lost-ack: every acknowledged register read back on every node, same
//    name and material (unless destroyed since), every acknowledged claim's
//    wallet present on every node;
//  - no-revert: every acknowledged revoke shows compromised, every
//    acknowledged destroy destroyed, on every node;
//  - names: every node maps each wallet name to the same wallet;
//  - origin-order: every node applied each origin's log up to the same seq,
//    which is the seq the origin itself has (no gap, no node ahead), and no
//    node raised an integrity alert (records are hash-chained per origin,
//    storage/record_auth.h: a gap, a reorder or a second apply is refused
//    with an alert).
// Probes during a run (the scenarios call them at the moment that matters):
//  - pair-durable (PairProbe): while a read-write node is down, its pair peer
//    holds every write that node acknowledged: so each was on both nodes
//    when acknowledged;
//  - restricted (RestrictedProbe): a critical write sent straight to a node
//    that reports itself in mode "restricted" is refused at once with
//    READ_ONLY_RESTRICTED: never acknowledged, never accepted.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/chaos/chaos_cluster.h"
#include "tests/chaos/workload.h"

namespace coffer::chaos {

struct Check {
  explicit Check(std::string check_name = "") : name(std::move(check_name)) {}
  std::string name;
  bool pass = true;
  std::string figures;                // "4,180 writes x 5 nodes read back"
  std::vector<std::string> failures;  // the first kMaxFailures
  // False when the run never exercised it (no probe made): printed n/a,
  // neither evidence of PASS nor a FAIL.
  bool ran = true;
  static constexpr size_t kMaxFailures = 10;
  void Fail(std::string what);
};

// convergence: waits up to `within` (10 s by quality.md) from the heal.
Check CheckConvergence(ChaosCluster& cluster, std::chrono::milliseconds within);
// The other checks after healing, in the order above, once every node has
// caught up (waited for here, up to 30 s).
std::vector<Check> CheckReadBack(ChaosCluster& cluster, const std::vector<AckedWrite>& acked);

// pair-durable: see above. Thread-safe.
class PairProbe {
 public:
  // Node `down` (a read-write node, not running) acknowledged the writes of
  // `acked` marked with its name; reads each on its pair peer.
  void PeerHolds(ChaosCluster& cluster, size_t down, const std::vector<AckedWrite>& acked);
  Check Result() const;

 private:
  mutable std::mutex mu_;
  Check check_{"pair-durable"};
  uint64_t probes_ = 0, writes_ = 0;
};

// restricted: see above. Thread-safe.
class RestrictedProbe {
 public:
  // Sends one register straight to node i if it reports mode "restricted"
  // (no failover); anything but READ_ONLY_RESTRICTED is a failure. Returns
  // whether the node was restricted (a probe was made).
  bool Probe(ChaosCluster& cluster, size_t i);
  Check Result() const;

 private:
  mutable std::mutex mu_;
  Check check_{"restricted"};
  uint64_t probes_ = 0;
  uint64_t inconclusive_ = 0;  // no answer: counted apart
};

}  // namespace coffer::chaos
