// A real `coffer node start` process on loopback for integration tests: its
// own temp directory with a CA, node and client certificates, a config file
// and a passphrase. Readiness and shutdown are waited for with deadlines.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/wait_for.h"
#include "node/client/client.h"
#include "node/net/certs.h"
#include "node/net/tls.h"
#include "storage/test_util.h"
#include "tests/harness/ports.h"

namespace coffer::integration {

// Polls `condition` every 20 ms (a poll may ask a node process over TLS)
// until it holds or `deadline` passes.
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  return coffer::WaitFor(condition, deadline, std::chrono::milliseconds(20));
}

// A [node] line that makes the others dial this node at 127.0.0.1:`port`
// (a FaultProxy in front of its peer_listen).
inline std::string PeerAdvertise(uint16_t port) {
  return "peer_advertise = \"127.0.0.1:" + std::to_string(port) + "\"\n";
}

// How a NodeProcess is made. Defaults: a node "node1" with a CA of its own.
struct NodeProcessOptions {
  std::string name = "node1";
  // Shared by the nodes of one cluster; nullptr: a new CA for this node.
  const node::PemPair* ca = nullptr;
  // Extra lines for the [node] table (e.g. peer_advertise).
  std::string node_config;
  // The peer link port; 0: a free one.
  uint16_t peer_port = 0;
  // The peer links' IP (a loopback address): the node listens there and
  // dials its peers from there, so a FaultProxy can tell nodes apart.
  std::string peer_host = "127.0.0.1";
  // The `coffer` binary to run; "": COFFER_BIN (the build's). The upgrade
  // tests switch a node to coffer-next between restarts (set_binary).
  std::string binary{};
  // Extra environment for the process ("NAME=value"), on top of this
  // process's own (e.g. COFFER_FAULT_POINTS_ARM for a planted bug).
  std::vector<std::string> env{};
};

class NodeProcess {
 public:
  explicit NodeProcess(NodeProcessOptions options = {})
      : name_(options.name),
        binary_(options.binary.empty() ? std::string(COFFER_BIN) : options.binary),
        env_(options.env),
        port_hold_(ReservePort()),
        peer_port_hold_(options.peer_port != 0 ? PortHold() : ReservePort()),
        http_port_hold_(ReservePort()),
        port_(port_hold_.port()),
        peer_port_(options.peer_port != 0 ? options.peer_port : peer_port_hold_.port()),
        http_port_(http_port_hold_.port()) {
    std::string dir = dir_.path();
    ca_ = options.ca != nullptr ? *options.ca : *node::CreateCertificateAuthority("test CA");
    EXPECT_TRUE(node::WritePemPair(ca_, dir + "/ca.pem", dir + "/ca.key").ok());
    std::vector<std::string> ips = {"127.0.0.1"};
    if (options.peer_host != "127.0.0.1") ips.push_back(options.peer_host);
    auto node_cert = node::IssueCertificate(ca_, {name_, "node", ips, {}, 30});
    EXPECT_TRUE(node::WritePemPair(*node_cert, dir + "/node.pem", dir + "/node.key").ok());
    admin_ = *node::IssueCertificate(ca_, {"admin", "admin", {}, {}, 30});
    WriteWholeFile(dir + "/passphrase", "integration-test-passphrase\n");
    WriteWholeFile(dir + "/node.toml",
                   "[node]\nname = \"" + name_ + "\"\ndata_dir = \"data\"\nlisten = \"127.0.0.1:" +
                       std::to_string(port_) + "\"\npeer_listen = \"" + options.peer_host + ":" +
                       std::to_string(peer_port_) + "\"\nhttp_listen = \"127.0.0.1:" +
                       std::to_string(http_port_) + "\"\n" + options.node_config +
                       "\n[tls]\nca_file = \"ca.pem\"\ncert_file = \"node.pem\"\n"
                       "key_file = \"node.key\"\nhandshake_timeout_ms = 2000\n"
                       "[root_of_trust]\npassphrase_file = \"passphrase\"\nscrypt_n = 1024\n"
                       "[log]\nfile = \"node.log\"\n");
    auto tls = node::MakeClientTlsContext(
        node::TlsCredentials{ca_.cert_pem, admin_.cert_pem, admin_.key_pem});
    EXPECT_TRUE(tls.ok()) << tls.status().ToString();
    admin_tls_ = std::move(tls).value();
  }
  ~NodeProcess() { Kill(SIGKILL); }

  const std::string& dir() const { return dir_.path(); }
  std::string data_dir() const { return dir_.path() + "/data"; }
  std::string log_file() const { return dir_.path() + "/node.log"; }
  // The process's stdout and stderr (e.g. join progress lines).
  std::string output_file() const { return dir_.path() + "/node.out"; }
  uint16_t port() const { return port_; }
  uint16_t peer_port() const { return peer_port_; }
  // The running process (<= 0 when not running).
  pid_t pid() const { return pid_; }
  // The monitoring endpoint (/metrics, /livez, /readyz, /health, /status).
  uint16_t http_port() const { return http_port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& name() const { return name_; }
  // The binary the next Start/Launch runs (the node must be stopped).
  const std::string& binary() const { return binary_; }
  void set_binary(std::string binary) { binary_ = std::move(binary); }
  const node::PemPair& ca() const { return ca_; }
  // Its config with every file path made absolute (data, certificates,
  // passphrase, log), for a copy kept elsewhere: the local supervisor's
  // NAME.toml (node/orchestrator/local_supervisor.h). "" if a path is missing.
  std::string ConfigWithAbsolutePaths() const {
    std::string config = ReadWholeFile(dir_.path() + "/node.toml");
    for (const char* file : {"data", "ca.pem", "node.pem", "node.key", "passphrase", "node.log"}) {
      const std::string quoted = std::string("\"") + file + "\"";
      auto at = config.find(quoted);
      if (at == std::string::npos) return "";
      config.replace(at, quoted.size(), "\"" + dir_.path() + "/" + file + "\"");
    }
    return config;
  }
  boost::asio::ssl::context& admin_tls() { return *admin_tls_; }

  // Starts the node and waits (up to 30 s) until it answers a status request.
  // `extra_args` go after `node start --config FILE` (e.g. --join, --token).
  ::testing::AssertionResult Start(std::vector<std::string> extra_args = {}) {
    Launch(std::move(extra_args));
    return WaitServing(std::chrono::seconds(30));
  }

  // Starts the process without waiting (e.g. a candidate whose join takes a
  // while); its stdout and stderr go to output_file().
  void Launch(std::vector<std::string> extra_args = {}) {
    // Everything the child needs is built before fork: a child of a
    // multi-threaded process may only call async-signal-safe functions.
    std::string out = dir_.path() + "/node.out";
    std::string config = dir_.path() + "/node.toml";
    std::vector<std::string> args = {binary_, "node", "start", "--config", config};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The extra variables first: getenv finds the first of a name.
    std::vector<std::string> env_strings = env_;
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      execve(binary_.c_str(), argv.data(), envp.data());
      _exit(127);
    }
  }

  // Waits up to `timeout` until the launched node answers a status request.
  ::testing::AssertionResult WaitServing(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure()
               << "node exited during start: " << ReadWholeFile(dir_.path() + "/node.out");
      }
      pb::Request request;
      request.mutable_node_status();
      auto response = Call(request);
      if (response.ok() && response->code() == "OK") return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval, bounded
    }
    return ::testing::AssertionFailure() << "node did not answer within " << timeout.count()
                                         << " ms: " << ReadWholeFile(dir_.path() + "/node.out");
  }

  // Sends a signal and waits (up to 30 s) for the process to end; one that
  // has not ended by then is killed (SIGKILL) and reaped, so it never holds
  // the node's ports or store into the test's next step.
  void Kill(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool ended = false;
    while (!ended && std::chrono::steady_clock::now() < deadline) {
      ended = waitpid(pid_, nullptr, WNOHANG) == pid_;
      if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!ended) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);  // SIGKILL cannot be caught: this returns
    }
    pid_ = -1;
  }
  bool running() const { return pid_ > 0 && kill(pid_, 0) == 0; }
  // Waits up to `timeout` for a process that stops by itself to end (and
  // reaps it). True once it has ended; `exit_status` gets waitpid's status.
  bool WaitExited(std::chrono::milliseconds timeout, int* exit_status = nullptr) {
    if (pid_ <= 0) return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        if (exit_status != nullptr) *exit_status = status;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval, bounded
    }
    return false;
  }

  StatusOr<std::unique_ptr<node::CofferClient>> Connect(boost::asio::ssl::context& tls) {
    return node::CofferClient::Connect("127.0.0.1", port_, tls, std::chrono::seconds(5));
  }
  // One request on a fresh admin connection.
  StatusOr<pb::Response> Call(const pb::Request& request) {
    auto client = Connect(*admin_tls_);
    if (!client.ok()) return client.status();
    return (*client)->Call(request, std::chrono::seconds(10));
  }

 private:
  storage::testing::TempDir dir_;
  std::string name_;
  std::string binary_;
  std::vector<std::string> env_;
  // Held as long as this NodeProcess exists (see PortHold); declared before
  // the ports read from them.
  PortHold port_hold_;
  PortHold peer_port_hold_;
  PortHold http_port_hold_;
  uint16_t port_;
  uint16_t peer_port_;
  uint16_t http_port_;
  node::PemPair ca_;
  node::PemPair admin_;
  std::unique_ptr<boost::asio::ssl::context> admin_tls_;
  pid_t pid_ = -1;
};

}  // namespace coffer::integration
