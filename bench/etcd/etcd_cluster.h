// A local etcd cluster for coffer-bench's `--vs-etcd` (bench/README.md):
// N members of the Debian etcd-server binary on 127.0.0.1, plain HTTP, on
// free ports, each with its data dir and log file under a work dir the caller
// owns. Start waits until every member answers GET /health with "true"
// (a deadline); the destructor stops the members by PID (SIGTERM, then
// SIGKILL after a deadline).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace coffer::bench {

struct EtcdClusterOptions {
  // Directory for data dirs (<work_dir>/<name>.data) and logs
  // (<work_dir>/<name>.log); created if missing. Required.
  std::string work_dir;
  std::string etcd_binary = "/usr/bin/etcd";
  int members = 3;  // 1 to 7
  // Until every member is healthy.
  std::chrono::milliseconds start_timeout{30000};
  // From SIGTERM to SIGKILL, per member.
  std::chrono::milliseconds stop_timeout{5000};
};

class EtcdCluster {
 public:
  struct Member {
    std::string name;  // "m1", "m2", ...
    pid_t pid = -1;
    uint16_t client_port = 0;  // http://127.0.0.1:client_port
    uint16_t peer_port = 0;
    std::string data_dir;
    std::string log_path;
  };

  // Starts the members and waits until each is healthy. INVALID_ARGUMENT for
  // bad options; NOT_FOUND if the binary is missing; UNAVAILABLE if a member
  // exits or the cluster is not healthy by the deadline (the members started
  // are stopped again; their logs stay in work_dir).
  static StatusOr<std::unique_ptr<EtcdCluster>> Start(const EtcdClusterOptions& options);

  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  const std::vector<Member>& members() const { return members_; }
  // "127.0.0.1:port" of each member's client URL.
  std::vector<std::string> ClientAddresses() const;
  // Stops every member still running (SIGTERM, SIGKILL after the deadline)
  // and reaps it. Idempotent.
  void Stop();

 private:
  explicit EtcdCluster(EtcdClusterOptions options) : options_(std::move(options)) {}
  Status Launch();
  bool AllHealthy() const;
  // Whether some member has exited; reaps it and names it in *which.
  bool SomeMemberExited(std::string* which);

  EtcdClusterOptions options_;
  std::vector<Member> members_;
};

// Whether the etcd binary at `path` exists and is executable.
bool EtcdAvailable(const std::string& path = "/usr/bin/etcd");

}  // namespace coffer::bench
