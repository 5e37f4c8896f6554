// The client workload of a coffer-chaos run: `clients` threads, each with a
// FailoverClient over every node (client k prefers a node of pair k % pairs
// first, so clients are spread over the pairs), sending critical writes
// (register 64-byte secrets), reads of acknowledged objects, name claims that
// conflict across pairs (clients k and k+1 claim the same wallet names
// through different pairs) and lifecycle steps on their own objects (revoke
// as compromised, then destroy). Every operation goes into the History
// (invoke, then ok, fail or unknown) and every acknowledged write into the
// Ledger the checkers read.
//
// Pacing: each client sends at most `ops_per_client_per_second` so that the
// nodes, not the clients, set the pace on a 2-core machine.
//
// An operation whose outcome is unknown (OUTCOME_UNKNOWN after the client's
// own retries) is retried after healing with the same request id, and the
// record its answer named (retry_of) when it named one, as docs/cluster.md
// tells clients to (ResolveUnknown). The runner calls it once every node
// has converged: every node then holds every record that took effect, so
// the retry is answered the original result on any node (or, if the write
// never took effect, makes it now). A retry that succeeds is acknowledged
// then.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proto/api.pb.h"
#include "tests/chaos/chaos_cluster.h"
#include "tests/chaos/history.h"

namespace coffer::chaos {

// One acknowledged write, as the client saw it.
struct AckedWrite {
  std::string op;  // "register", "claim", "activate", "revoke", "destroy"
  std::string request_id;
  std::string uuid;      // the object or wallet
  std::string name;      // register: the object's name; claim: the claimed name
  std::string material;  // register: the secret's bytes
  std::string node;      // the node that acknowledged it ("" if found on retry)
  double invoked = 0;    // History time of the invoke
  double acked = 0;      // History time of the acknowledgement
};

// A write whose outcome is unknown: what to send again.
struct UnknownWrite {
  std::string op;
  pb::Request request;  // with its request id
  std::string node;     // the node that last answered, if any
  std::string name;
  std::string material;
  double invoked = 0;
};

class Ledger {
 public:
  void Ack(AckedWrite write);
  void Unknown(UnknownWrite write);
  std::vector<AckedWrite> acked() const;
  std::vector<UnknownWrite> TakeUnknown();
  // The client's own acknowledged registers it may revoke or destroy.
  size_t acked_count() const;

 private:
  mutable std::mutex mu_;
  std::vector<AckedWrite> acked_;
  std::vector<UnknownWrite> unknown_;
};

struct WorkloadOptions {
  int clients = 4;
  int ops_per_client_per_second = 40;
  uint64_t seed = 1;
  // Prefix of every request id and name ("" on a cluster started for the
  // run; a per-run tag on an attached one).
  std::string tag;
  // Bounds one client call (its attempts over the nodes together).
  std::chrono::milliseconds call_deadline{8000};
};

class Workload {
 public:
  Workload(ChaosCluster& cluster, Ledger& ledger, WorkloadOptions options);
  ~Workload();
  void Start();
  // Stops and joins the clients (each finishes its call in flight).
  void Stop();
  // Retries every unknown write with its request id (see above). Returns how
  // many were then acknowledged / refused / still unknown.
  struct Resolved {
    int acked = 0;
    int refused = 0;
    int still_unknown = 0;
  };
  Resolved ResolveUnknown();

  uint64_t invoked() const { return invoked_; }

 private:
  void RunClient(int k);
  std::vector<std::string> AddressesFor(int k) const;

  ChaosCluster& cluster_;
  Ledger& ledger_;
  WorkloadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> invoked_{0};
  std::vector<std::thread> threads_;
};

// The node name for a client API address of `cluster` ("" if none).
std::string NodeForAddress(ChaosCluster& cluster, const std::string& address);

}  // namespace coffer::chaos
