// The cluster a coffer-bench run drives: either started here (real `coffer
// node start` processes on loopback, mutual TLS, RocksDB on disk in a temp
// directory, stopped by PID at the end) or an existing one (--address).
#pragma once

#include <sys/types.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/client/client.h"
#include "proto/api.pb.h"
#include "tests/harness/ports.h"

namespace coffer::bench {

struct BenchNode {
  std::string name;  // "node3", or the address of an existing node
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  bool read_write = true;  // takes critical writes
  pid_t pid = -1;          // -1: unknown (existing cluster without --pids)
  std::string log_file;    // "" for an existing cluster
  std::string address() const { return host + ":" + std::to_string(port); }
};

// How long a node may take to start, join and become ACTIVE.
inline constexpr std::chrono::seconds kNodeReadyTimeout{60};
// How long a node may take to stop after SIGTERM before it is killed.
inline constexpr std::chrono::seconds kNodeStopTimeout{20};

class BenchCluster {
 public:
  // Starts `pairs` read-write pairs and `read_only` read-only nodes from the
  // `coffer` binary at `coffer_bin` and waits until every node is ACTIVE
  // (pairs == 0, read_only == 1: one standalone node). `progress` gets one
  // line per step. An error names the node that failed and its log file;
  // the nodes started so far are stopped. `extra_config` is TOML appended to
  // every node's generated config.
  static StatusOr<std::unique_ptr<BenchCluster>> StartLocal(
      const std::string& coffer_bin, int pairs, int read_only, bool keep,
      const std::string& extra_config, const std::function<void(const std::string&)>& progress);

  // An existing cluster: `addresses` (host:port), an admin certificate and
  // optionally the nodes' process ids. Asks each node's status for its mode.
  static StatusOr<std::unique_ptr<BenchCluster>> Existing(const std::vector<std::string>& addresses,
                                                          const std::string& ca_file,
                                                          const std::string& cert_file,
                                                          const std::string& key_file,
                                                          const std::vector<int>& pids);

  // Stops the nodes this object started (SIGTERM, then SIGKILL after
  // kNodeStopTimeout) and removes the temp directory unless kept.
  ~BenchCluster();
  void Stop();

  const std::vector<BenchNode>& nodes() const { return nodes_; }
  std::vector<const BenchNode*> ReadWriteNodes() const;
  // The temp directory of a local cluster ("" for an existing one).
  const std::string& dir() const { return dir_; }
  boost::asio::ssl::context& tls() { return *tls_; }

  // A connection to `node` within `timeout`.
  StatusOr<std::unique_ptr<node::CofferClient>> Connect(const BenchNode& node,
                                                        std::chrono::milliseconds timeout);
  // One request on a fresh connection; a response carrying an error becomes
  // that error.
  StatusOr<pb::Response> Ask(const BenchNode& node, const pb::Request& request);
  StatusOr<pb::NodeStatus> StatusOf(const BenchNode& node);

 private:
  BenchCluster() = default;
  Status LaunchNode(size_t index, const std::vector<std::string>& extra_args);
  enum class Readiness {
    kServing,       // answers a status request
    kActive,        // and reports state ACTIVE
    kActiveInMode,  // and, if a pair member, mode read-write (its peer is linked)
  };
  // Waits up to kNodeReadyTimeout until node `index` is `readiness`; an
  // error names the node and its log file.
  Status WaitReady(size_t index, Readiness readiness);
  Status Join(size_t index, size_t controller, bool read_write);

  std::string coffer_bin_;
  std::string dir_;
  bool local_ = false;
  bool keep_ = false;
  std::vector<BenchNode> nodes_;
  std::vector<integration::PortHold> port_holds_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace coffer::bench
