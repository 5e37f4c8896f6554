#include "bench/etcd/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "bench/etcd/http_once.h"
#include "common/wait_for.h"
#include "tests/harness/ports.h"

extern char** environ;

namespace coffer::bench {
namespace {

// Ports are held (tests/harness/ports.h: a bound, non-listening socket with
// SO_REUSEADDR) until the member that listens on each is up: while held,
// another process picking ports the same way cannot take it, yet etcd (Go
// sets SO_REUSEADDR on listeners) binds beside the hold.
using integration::PortHold;
using integration::ReservePort;

std::string Url(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

}  // namespace

bool EtcdAvailable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(const EtcdClusterOptions& options) {
  if (options.work_dir.empty()) return InvalidArgument("etcd: work_dir is required");
  if (options.members < 1 || options.members > 7) {
    return InvalidArgument("etcd: members must be 1 to 7, not " + std::to_string(options.members));
  }
  if (!EtcdAvailable(options.etcd_binary)) {
    return NotFound("etcd: no executable " + options.etcd_binary +
                    " (Debian package etcd-server; scripts/install-deps.sh)");
  }
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(options));
  Status launched = cluster->Launch();
  if (!launched.ok()) return launched;  // the destructor stops what started
  return cluster;
}

Status EtcdCluster::Launch() {
  std::error_code ec;
  std::filesystem::create_directories(options_.work_dir, ec);
  if (ec) return Unavailable("etcd: cannot create " + options_.work_dir + ": " + ec.message());

  std::vector<PortHold> holds;
  std::string initial_cluster;
  for (int i = 0; i < options_.members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i + 1);
    holds.push_back(ReservePort());
    m.client_port = holds.back().port();
    holds.push_back(ReservePort());
    m.peer_port = holds.back().port();
    if (m.client_port == 0 || m.peer_port == 0) return Unavailable("etcd: no free loopback port");
    m.data_dir = options_.work_dir + "/" + m.name + ".data";
    m.log_path = options_.work_dir + "/" + m.name + ".log";
    std::filesystem::remove_all(m.data_dir, ec);  // a fresh cluster every time
    if (!initial_cluster.empty()) initial_cluster += ",";
    initial_cluster += m.name + "=" + Url(m.peer_port);
    members_.push_back(m);
  }
  std::string token = "coffer-bench-" + std::to_string(::getpid()) + "-" +
                      std::to_string(members_.front().client_port);

  for (Member& m : members_) {
    std::vector<std::string> args = {options_.etcd_binary,
                                     "--name=" + m.name,
                                     "--data-dir=" + m.data_dir,
                                     "--listen-client-urls=" + Url(m.client_port),
                                     "--advertise-client-urls=" + Url(m.client_port),
                                     "--listen-peer-urls=" + Url(m.peer_port),
                                     "--initial-advertise-peer-urls=" + Url(m.peer_port),
                                     "--initial-cluster=" + initial_cluster,
                                     "--initial-cluster-token=" + token,
                                     "--initial-cluster-state=new",
                                     "--logger=zap",
                                     "--log-outputs=stderr"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, m.log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    int rc =
        ::posix_spawn(&pid, options_.etcd_binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      return Unavailable("etcd: cannot start " + m.name + ": " + std::strerror(rc));
    }
    m.pid = pid;
  }

  std::string exited;
  bool healthy = WaitFor(
      [&] {
        if (SomeMemberExited(&exited)) return true;  // stop waiting; reported below
        return AllHealthy();
      },
      options_.start_timeout, std::chrono::milliseconds(50));
  if (!exited.empty()) {
    return Unavailable("etcd: member " + exited + " exited during start-up; see its log in " +
                       options_.work_dir);
  }
  if (!healthy) {
    return Unavailable("etcd: cluster not healthy after " +
                       std::to_string(options_.start_timeout.count()) + " ms; logs in " +
                       options_.work_dir);
  }
  return Status::Ok();
}

bool EtcdCluster::AllHealthy() const {
  for (const Member& m : members_) {
    auto answer =
        HttpOnce("127.0.0.1", m.client_port, "GET", "/health", "", std::chrono::milliseconds(500));
    if (!answer.ok() || answer->status != 200 ||
        answer->body.find("\"health\":\"true\"") == std::string::npos) {
      return false;
    }
  }
  return true;
}

bool EtcdCluster::SomeMemberExited(std::string* which) {
  for (Member& m : members_) {
    if (m.pid <= 0) continue;
    int status = 0;
    if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
      m.pid = -1;
      *which = m.name;
      return true;
    }
  }
  return false;
}

std::vector<std::string> EtcdCluster::ClientAddresses() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back("127.0.0.1:" + std::to_string(m.client_port));
  return out;
}

void EtcdCluster::Stop() {
  // One member at a time: a leader that is stopped while the others still
  // run hands its leadership over at once, whereas one stopped together with
  // them waits out the transfer (seconds) before it exits.
  for (Member& m : members_) {
    if (m.pid <= 0) continue;
    ::kill(m.pid, SIGTERM);
    int status = 0;
    bool reaped = WaitFor([&] { return ::waitpid(m.pid, &status, WNOHANG) == m.pid; },
                          options_.stop_timeout, std::chrono::milliseconds(10));
    if (!reaped) {
      ::kill(m.pid, SIGKILL);
      ::waitpid(m.pid, &status, 0);  // SIGKILL cannot be ignored: returns promptly
    }
    m.pid = -1;
  }
}

EtcdCluster::~EtcdCluster() { Stop(); }

}  // namespace coffer::bench
