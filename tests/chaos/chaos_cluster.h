// The cluster a coffer-chaos run works on: real `coffer node start`
// processes on loopback sharing one CA (tests/harness/node_process.h), each
// node's peer links on a loopback address of its own (127.0.0.(11+i)) behind
// a FaultProxy of its own, so the harness can cut any link in either
// direction, delay it or reset it. Nodes are formed as the README's shape:
// `pairs` read-write pairs and `read_only` read-only nodes.
//
// Faults it performs: kill -9 and restart, SIGSTOP/SIGCONT, link cuts (both
// ways or one way: links are one TCP connection per direction, A dials B to
// send to B, docs/cluster.md), partitions, per-chunk delay, and a node's
// data directory on a size-limited tmpfs (root only) for disk-full faults.
//
// A sampler thread records every node's state and mode into the History
// every 200 ms (the timeline's lanes) while Sample(true).
//
// Thread-safety: the fault methods and the accessors may be called from the
// scenario thread while the sampler runs; client threads only read
// addresses() and tls_files().
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/client/failover_client.h"
#include "node/orchestrator/local_supervisor.h"
#include "tests/chaos/history.h"
#include "tests/harness/fault_proxy.h"
#include "tests/harness/node_process.h"

namespace coffer::chaos {

struct ClusterOptions {
  int pairs = 2;      // read-write pairs (1..4)
  int read_only = 1;  // read-only nodes (0..4)
  // The `coffer` binary the nodes run; "": the one next to this executable
  // (bin/ of the build), else the build's (COFFER_BIN).
  std::string binary;
  // Fault points armed in every node process (COFFER_FAULT_POINTS_ARM), for
  // R11's planted bugs. "" = none.
  std::string planted;
  // The index of a node whose data directory is a tmpfs of this many MiB
  // (R7), or -1.
  int small_disk_node = -1;
  int small_disk_mib = 16;
};

// `coffer` beside this executable if it is there, else the build's: what
// the nodes run unless told otherwise (ClusterOptions::binary, NAME.binary).
std::string DefaultCofferBinary();

// How long a node may take to start, join and go ACTIVE, and a cluster to form.
inline constexpr std::chrono::seconds kFormTimeout{90};

class ChaosCluster {
 public:
  struct Member {
    // Null on an attached cluster (Attach): its nodes are not this
    // harness's processes.
    std::unique_ptr<integration::NodeProcess> process;
    std::unique_ptr<integration::FaultProxy> proxy;  // in front of its peer port (null: attached)
    std::string peer_host;                           // 127.0.0.(11+i)
    std::string name;                                // "node1"
    std::string address;                             // its client API, host:port
    std::string log_file;                            // its log, and its stdout and stderr
    std::string output_file;
    int pair = -1;  // the pair's index; -1: read-only
    uint32_t node_id = 0;
    std::string mount;     // a tmpfs mounted on its data directory, or ""
    bool stopped = false;  // SIGSTOPped
    bool retired = false;  // deleted from the cluster (R6's expired node): out of every check
  };

  // Starts and forms the cluster; an error names the node that failed and
  // the tail of its output. The nodes started so far are killed.
  static StatusOr<std::unique_ptr<ChaosCluster>> Start(const ClusterOptions& options,
                                                       History* history);
  // Attaches to a running cluster in the layout scripts/start-local.sh
  // makes in `dir` (NAME.toml, NAME.pid, NAME.binary per node;
  // certs/ca.pem, certs/admin.pem and certs/admin.key), every member of it
  // up and ACTIVE. Nothing is started or formed. Kill9, Restart, Freeze
  // and Thaw go through a LocalSupervisor on `dir`; the network faults,
  // clock offsets, small disks and planted bugs need a cluster this harness
  // starts (its links are not behind the harness's proxies), and the
  // scenarios that use them refuse an attached cluster. When the cluster
  // is let go every node is left running (the run's end restarts a killed
  // node and thaws a frozen one) and nothing in `dir` is removed.
  // NOT_FOUND/INVALID_ARGUMENT naming what is missing; UNAVAILABLE if a
  // member does not answer or is not ACTIVE.
  static StatusOr<std::unique_ptr<ChaosCluster>> Attach(const std::string& dir, History* history);
  ~ChaosCluster();
  bool attached() const { return attached_; }

  size_t size() const { return members_.size(); }
  Member& member(size_t i) { return members_[i]; }
  const std::string& name(size_t i) const { return members_[i].name; }
  // The harness's process of node i (not on an attached cluster).
  integration::NodeProcess& node(size_t i) { return *members_[i].process; }
  bool retired(size_t i) const { return members_[i].retired; }
  // Kills node i and leaves it out of every later check and heal.
  void Retire(size_t i);
  // The nodes not retired.
  std::vector<size_t> live() const;
  // The indexes of the nodes of pair `pair`, and of the read-write nodes.
  std::vector<size_t> PairOf(int pair) const;
  std::vector<size_t> ReadWriteNodes() const;
  int pairs() const { return options_.pairs; }
  // The pair peer of node i (or -1 for a read-only node).
  int PeerOf(size_t i) const;

  // Client API addresses of every node, and the admin credentials' files.
  std::vector<std::string> addresses() const;
  const node::TlsFiles& tls_files() const { return tls_files_; }

  // Moves the nodes, one at a time, under a LocalSupervisor (the layout of
  // scripts/start-local.sh in supervised_dir(): configs with absolute paths,
  // pid files, daemons that outlive any orchestrator), as `coffer upgrade
  // --local` expects (R9). From then on Kill9, Restart and Running go
  // through it. `binary` is what each node runs until swapped.
  Status Supervise(const std::string& binary);
  bool supervised() const { return supervisor_ != nullptr; }
  const std::string& supervised_dir() const { return supervised_dir_; }
  // Whether node i's process is running, and its pid (<= 0: none).
  bool Running(size_t i) const;
  pid_t Pid(size_t i) const;
  // The directory of the clients' credentials (ca.pem, admin.pem, admin.key).
  const std::string& dir() const { return dir_; }

  // Faults. Each records a band in the History (ended by the matching heal).
  void Kill9(size_t i);
  // Restarts a killed node and waits until it answers (up to 60 s).
  Status Restart(size_t i);
  void Freeze(size_t i);  // SIGSTOP
  void Thaw(size_t i);    // SIGCONT
  // Blackholes what `from` sends to `to` (one way); Cut(a, b) and Cut(b, a)
  // cut both ways.
  void Cut(size_t from, size_t to);
  // Every node of `side` cut from every node not in it, both ways.
  void Partition(const std::vector<size_t>& side);
  // Every chunk into node i's peer port held for `delay` (0: none).
  void Delay(size_t i, std::chrono::milliseconds delay);
  // Closes every peer connection into node i (the nodes redial and resend:
  // duplicated records on the wire).
  void ResetLinks(size_t i);
  // Moves node i's wall clock by `offset_micros` from now on (0: back to
  // the system's), through its clock offset file (common/clock.h).
  void SetClockOffset(size_t i, int64_t offset_micros);
  // Every link passes again and every delay is gone.
  void HealNetwork();

  // Whether every running node reports the same digest and applied vector
  // (figures: the digests seen).
  bool Converged(std::string* detail = nullptr);
  // Waits until Converged or `timeout`; returns the seconds it took, or -1.
  double WaitConverged(std::chrono::milliseconds timeout, std::string* detail);
  // Under load digests never stand still, so convergence after a heal is
  // "caught up": waits until every node has applied, of every origin, at
  // least what that origin had itself when this was called. Returns the
  // seconds it took, or -1 (`detail` then names the node behind).
  double WaitCaughtUp(std::chrono::milliseconds timeout, std::string* detail);
  // Waits until every node is running, answers, is ACTIVE and each pair node
  // is read-write.
  bool WaitHealthy(std::chrono::milliseconds timeout);

  // A fresh admin connection to node i.
  StatusOr<std::unique_ptr<node::CofferClient>> Connect(size_t i);
  // One request on node i over a fresh admin connection, the Response as
  // it came (a transport failure is an error).
  StatusOr<pb::Response> Call(size_t i, const pb::Request& request);
  // As Call, and a Response carrying an error becomes that error.
  StatusOr<pb::Response> Ask(size_t i, const pb::Request& request);
  StatusOr<pb::NodeStatus> StatusOf(size_t i);

  // Starts/stops the sampler thread.
  void Sample(bool on);
  // Copies every node's log and output into `dir`/logs/.
  void CopyLogs(const std::string& dir) const;

  History& history() { return *history_; }

 private:
  ChaosCluster(const ClusterOptions& options, History* history);
  Status MakeAdminTls();
  Status Form();
  void SampleOnce();

  ClusterOptions options_;
  History* history_;
  node::PemPair ca_;
  std::string dir_;  // credentials shared by the clients
  node::TlsFiles tls_files_;
  std::unique_ptr<boost::asio::ssl::context> admin_tls_;  // from tls_files_
  bool attached_ = false;
  std::vector<Member> members_;
  std::vector<std::pair<std::string, size_t>> open_bands_;  // fault key -> band
  std::unique_ptr<node::orchestrator::LocalSupervisor> supervisor_;
  std::string supervised_dir_;
  std::mutex mu_;
  std::atomic<bool> sampling_{false};
  std::thread sampler_;
};

}  // namespace coffer::chaos
