// The etcd side of coffer-bench's `--vs-etcd` (bench/README.md): puts driven
// through etcd's v3 JSON gateway (POST /v3/kv/put, base64 key and value) over
// plain HTTP/1.1 keep-alive connections, with the same LoadShape as the
// Coffer run. Connections are spread round-robin over the members; each
// client has `in_flight` connections with one request outstanding on each
// (HTTP/1.1 without pipelining), so clients x in_flight requests are in
// flight in all. Every put writes a distinct key.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "bench/etcd/etcd_cluster.h"
#include "bench/load/load_result.h"
#include "common/status.h"

namespace coffer::bench {

struct EtcdLoadOptions {
  LoadShape shape;
  // Members' client addresses, "127.0.0.1:port" (EtcdCluster::ClientAddresses).
  std::vector<std::string> addresses;
  // Processes whose CPU and RSS the result reports over the measured window
  // (name, pid); EtcdLoadOptionsFor fills the cluster's members.
  std::vector<std::pair<std::string, pid_t>> processes;
  // A put not answered within this is counted as "TIMEOUT" and its
  // connection is made again.
  std::chrono::milliseconds request_timeout{10000};
  // Threads running the client's event loop (all connections share it).
  int io_threads = 1;
  // Keys are <key_prefix><connection>/<seq>.
  std::string key_prefix = "coffer-bench/";
};

// Options for a load against `cluster`: its addresses and members' PIDs.
EtcdLoadOptions EtcdLoadOptionsFor(const EtcdCluster& cluster, const LoadShape& shape);

// Runs the warm-up, then the measured window (shape.duration, or until
// shape.max_ops puts completed in it), and returns system "etcd", workload
// "put": successful puts and their latencies (those completed in the
// window), errors by code ("HTTP_<status>" for a non-200 answer, "TIMEOUT",
// "CONNECT" when a connection cannot be made, "IO" for a broken one), and
// CPU/RSS of `processes`. INVALID_ARGUMENT for a bad shape or no address.
// Failed puts do not fail the run: they are counted.
StatusOr<LoadResult> RunEtcdLoad(const EtcdLoadOptions& options);

}  // namespace coffer::bench
