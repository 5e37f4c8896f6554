#include "bench/coffer_bench/bench_cluster.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "bench/coffer_bench/interrupt.h"
#include "node/net/certs.h"
#include "node/net/tls.h"

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollInterval{100};
constexpr std::chrono::seconds kRequestTimeout{10};

std::string NodeConfig(const BenchNode& node, uint16_t peer_port, uint16_t http_port) {
  // scrypt_n = 1024: the passphrase KDF is not what is measured, and a low
  // cost keeps 16-node starts short.
  return "# Made by coffer-bench.\n[node]\nname = \"" + node.name +
         "\"\ndata_dir = \"data\"\nlisten = \"" + node.address() + "\"\npeer_listen = \"" +
         node.host + ":" + std::to_string(peer_port) + "\"\nhttp_listen = \"" + node.host + ":" +
         std::to_string(http_port) +
         "\"\n\n[tls]\nca_file = \"../ca.pem\"\ncert_file = \"node.pem\"\nkey_file = "
         "\"node.key\"\n\n[root_of_trust]\npassphrase_file = \"../passphrase\"\nscrypt_n = 1024\n"
         "\n[log]\nfile = \"node.log\"\n";
}

std::string Tail(const std::string& path, size_t bytes) {
  std::string text = integration::ReadWholeFile(path);
  if (text.size() > bytes) text = "..." + text.substr(text.size() - bytes);
  return text;
}

}  // namespace

StatusOr<std::unique_ptr<BenchCluster>> BenchCluster::StartLocal(
    const std::string& coffer_bin, int pairs, int read_only, bool keep,
    const std::string& extra_config, const std::function<void(const std::string&)>& progress) {
  if (::access(coffer_bin.c_str(), X_OK) != 0) {
    return InvalidArgument("no coffer binary at " + coffer_bin + " (build it, or give --coffer)");
  }
  std::unique_ptr<BenchCluster> cluster(new BenchCluster());
  cluster->coffer_bin_ = coffer_bin;
  cluster->local_ = true;
  cluster->keep_ = keep;
  std::string pattern = (std::filesystem::temp_directory_path() / "coffer-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status(Code::kUnavailable, "cannot make a temp directory under " +
                                          std::filesystem::temp_directory_path().string());
  }
  cluster->dir_ = pattern;
  const std::string& dir = cluster->dir_;

  COFFER_ASSIGN_OR_RETURN(node::PemPair ca, node::CreateCertificateAuthority("coffer-bench CA"));
  COFFER_RETURN_IF_ERROR(node::WritePemPair(ca, dir + "/ca.pem", dir + "/ca.key"));
  COFFER_ASSIGN_OR_RETURN(node::PemPair admin,
                          node::IssueCertificate(ca, {"bench", "admin", {}, {}, 30}));
  COFFER_RETURN_IF_ERROR(node::WritePemPair(admin, dir + "/admin.pem", dir + "/admin.key"));
  integration::WriteWholeFile(dir + "/passphrase", "coffer-bench-passphrase\n");
  COFFER_ASSIGN_OR_RETURN(cluster->tls_, node::MakeClientTlsContext(node::TlsCredentials{
                                             ca.cert_pem, admin.cert_pem, admin.key_pem}));

  const int total = 2 * pairs + read_only;
  for (int i = 0; i < total; ++i) {
    BenchNode n;
    n.name = "node" + std::to_string(i + 1);
    integration::PortHold client = integration::ReservePort();
    integration::PortHold peer = integration::ReservePort();
    integration::PortHold http = integration::ReservePort();
    if (client.port() == 0 || peer.port() == 0 || http.port() == 0) {
      return Status(Code::kUnavailable, "no free loopback port for " + n.name);
    }
    n.port = client.port();
    n.read_write = i < 2 * pairs || pairs == 0;
    const std::string node_dir = dir + "/" + n.name;
    std::filesystem::create_directories(node_dir);
    n.log_file = node_dir + "/node.log";
    COFFER_ASSIGN_OR_RETURN(node::PemPair cert,
                            node::IssueCertificate(ca, {n.name, "node", {n.host}, {}, 30}));
    COFFER_RETURN_IF_ERROR(
        node::WritePemPair(cert, node_dir + "/node.pem", node_dir + "/node.key"));
    integration::WriteWholeFile(node_dir + "/node.toml",
                                NodeConfig(n, peer.port(), http.port()) + extra_config);
    cluster->nodes_.push_back(n);
    cluster->port_holds_.push_back(std::move(client));
    cluster->port_holds_.push_back(std::move(peer));
    cluster->port_holds_.push_back(std::move(http));
  }

  // The shape scripts/start-local.sh makes: node1 creates the cluster, node2
  // pairs with it; each further pair's first node joins through node1 and its
  // second through it; read-only nodes join through node1.
  progress("starting node1 (" + cluster->nodes_[0].address() + ")");
  COFFER_RETURN_IF_ERROR(cluster->LaunchNode(0, {}));
  if (pairs == 0) {
    COFFER_RETURN_IF_ERROR(cluster->WaitReady(0, Readiness::kServing));
    return cluster;
  }
  COFFER_RETURN_IF_ERROR(cluster->WaitReady(0, Readiness::kServing));
  pb::Request init;
  init.set_request_id("coffer-bench-init");
  init.mutable_write()->mutable_cluster_init()->set_name("bench");
  auto created = cluster->Ask(cluster->nodes_[0], init);
  if (!created.ok()) {
    return created.status().Annotate("cluster init on node1 (log " + cluster->nodes_[0].log_file +
                                     ")");
  }
  for (int p = 0; p < pairs; ++p) {
    const size_t first = static_cast<size_t>(2 * p);
    if (p > 0) {
      progress("joining " + cluster->nodes_[first].name + " through node1");
      COFFER_RETURN_IF_ERROR(cluster->Join(first, 0, /*read_write=*/false));
    }
    progress("joining " + cluster->nodes_[first + 1].name + " as the pair peer of " +
             cluster->nodes_[first].name);
    COFFER_RETURN_IF_ERROR(cluster->Join(first + 1, first, /*read_write=*/true));
  }
  for (int r = 0; r < read_only; ++r) {
    const size_t index = static_cast<size_t>(2 * pairs + r);
    progress("joining " + cluster->nodes_[index].name + " (read-only) through node1");
    COFFER_RETURN_IF_ERROR(cluster->Join(index, 0, /*read_write=*/false));
  }
  // A pair's first node reads "read-write" only once its peer is linked.
  for (size_t i = 0; i < cluster->nodes_.size(); ++i) {
    COFFER_RETURN_IF_ERROR(cluster->WaitReady(i, Readiness::kActiveInMode));
  }
  return cluster;
}

StatusOr<std::unique_ptr<BenchCluster>> BenchCluster::Existing(
    const std::vector<std::string>& addresses, const std::string& ca_file,
    const std::string& cert_file, const std::string& key_file, const std::vector<int>& pids) {
  std::unique_ptr<BenchCluster> cluster(new BenchCluster());
  COFFER_ASSIGN_OR_RETURN(cluster->tls_,
                          node::MakeClientTlsContext(node::TlsFiles{ca_file, cert_file, key_file}));
  for (size_t i = 0; i < addresses.size(); ++i) {
    BenchNode n;
    const std::string& a = addresses[i];
    const size_t colon = a.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= a.size() ||
        a.size() - colon - 1 > 5) {
      return InvalidArgument("--address: '" + a + "' is not host:port");
    }
    n.name = a;
    n.host = a.substr(0, colon);
    const int port = std::atoi(a.c_str() + colon + 1);
    if (port < 1 || port > 65535) return InvalidArgument("--address: bad port in '" + a + "'");
    n.port = static_cast<uint16_t>(port);
    if (i < pids.size()) n.pid = pids[i];
    auto status = cluster->StatusOf(n);
    if (!status.ok()) return status.status().Annotate("node " + a);
    n.read_write = status->mode() == "read-write";
    if (!status->node_name().empty()) n.name = status->node_name();
    cluster->nodes_.push_back(n);
  }
  return cluster;
}

BenchCluster::~BenchCluster() { Stop(); }

void BenchCluster::Stop() {
  if (!local_) return;
  for (auto& n : nodes_) {
    if (n.pid > 0) ::kill(n.pid, SIGTERM);
  }
  const auto deadline = Clock::now() + kNodeStopTimeout;
  for (auto& n : nodes_) {
    while (n.pid > 0) {
      if (::waitpid(n.pid, nullptr, WNOHANG) == n.pid) {
        n.pid = -1;
      } else if (Clock::now() >= deadline) {
        ::kill(n.pid, SIGKILL);
        ::waitpid(n.pid, nullptr, 0);
        n.pid = -1;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // bounded by the deadline
      }
    }
  }
  if (!keep_ && !dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  local_ = false;
}

std::vector<const BenchNode*> BenchCluster::ReadWriteNodes() const {
  std::vector<const BenchNode*> out;
  for (const auto& n : nodes_) {
    if (n.read_write) out.push_back(&n);
  }
  return out;
}

Status BenchCluster::LaunchNode(size_t index, const std::vector<std::string>& extra_args) {
  BenchNode& n = nodes_[index];
  const std::string node_dir = dir_ + "/" + n.name;
  const std::string config = node_dir + "/node.toml";
  const std::string out = node_dir + "/node.out";
  std::vector<std::string> args = {coffer_bin_, "node", "start", "--config", config};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status(Code::kUnavailable, "fork failed for " + n.name);
  if (pid == 0) {
    // Its own process group (Ctrl-C reaches coffer-bench only, which stops
    // the nodes in order), and killed if coffer-bench dies.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    if (std::freopen(out.c_str(), "a", stdout) == nullptr) ::_exit(126);
    ::dup2(::fileno(stdout), ::fileno(stderr));
    if (::chdir(node_dir.c_str()) != 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  n.pid = pid;
  return Status::Ok();
}

Status BenchCluster::WaitReady(size_t index, Readiness readiness) {
  BenchNode& n = nodes_[index];
  const auto deadline = Clock::now() + kNodeReadyTimeout;
  std::string last = "no answer yet";
  while (Clock::now() < deadline && !Interrupted()) {
    int wait_status = 0;
    if (n.pid > 0 && ::waitpid(n.pid, &wait_status, WNOHANG) == n.pid) {
      n.pid = -1;
      return Status(Code::kUnavailable, n.name + " exited while starting (log " + n.log_file +
                                            "; output " + dir_ + "/" + n.name + "/node.out: " +
                                            Tail(dir_ + "/" + n.name + "/node.out", 600) + ")");
    }
    auto status = StatusOf(n);
    if (status.ok()) {
      const bool mode_ok = !n.read_write || status->mode() == "read-write";
      if (readiness == Readiness::kServing) return Status::Ok();
      if (status->state() == "ACTIVE" && (readiness == Readiness::kActive || mode_ok)) {
        return Status::Ok();
      }
      last = "state " + status->state() + ", mode " + status->mode();
    } else {
      last = status.status().ToString();
    }
    std::this_thread::sleep_for(kPollInterval);  // poll interval, bounded by the deadline
  }
  if (Interrupted()) return Status(Code::kUnavailable, "interrupted");
  return Status(Code::kUnavailable, n.name + " (" + n.address() + ") was not ACTIVE within " +
                                        std::to_string(kNodeReadyTimeout.count()) + " s (" + last +
                                        "); see its log " + n.log_file);
}

Status BenchCluster::Join(size_t index, size_t controller, bool read_write) {
  pb::Request request;
  request.mutable_join_token()->set_role(read_write ? pb::NODE_READ_WRITE : pb::NODE_READ_ONLY);
  auto token = Ask(nodes_[controller], request);
  if (!token.ok()) {
    return token.status().Annotate("join token from " + nodes_[controller].name + " (log " +
                                   nodes_[controller].log_file + ")");
  }
  COFFER_RETURN_IF_ERROR(LaunchNode(
      index, {"--join", nodes_[controller].address(), "--token", token->join_token().token()}));
  return WaitReady(index, Readiness::kActive);
}

StatusOr<std::unique_ptr<node::CofferClient>> BenchCluster::Connect(
    const BenchNode& node, std::chrono::milliseconds timeout) {
  return node::CofferClient::Connect(node.host, node.port, *tls_, timeout);
}

StatusOr<pb::Response> BenchCluster::Ask(const BenchNode& node, const pb::Request& request) {
  COFFER_ASSIGN_OR_RETURN(auto client, Connect(node, std::chrono::seconds(5)));
  COFFER_ASSIGN_OR_RETURN(pb::Response response, client->Call(request, kRequestTimeout));
  COFFER_RETURN_IF_ERROR(node::StatusFromResponse(response));
  return response;
}

StatusOr<pb::NodeStatus> BenchCluster::StatusOf(const BenchNode& node) {
  pb::Request request;
  request.mutable_node_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(node, request));
  return response.node_status();
}

}  // namespace coffer::bench
