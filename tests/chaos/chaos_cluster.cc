#include "tests/chaos/chaos_cluster.h"

#include <signal.h>
#include <sys/mount.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/fault_point.h"
#include "common/wait_for.h"
#include "node/config/config.h"
#include "node/net/certs.h"
#include "tests/chaos/reaper.h"

namespace coffer::chaos {

using integration::FaultProxy;
using integration::NodeProcess;
using integration::NodeProcessOptions;

namespace {

// The last `bytes` of a file (a node's output, for an error message).
std::string Tail(const std::string& path, size_t bytes = 800) {
  std::string text = integration::ReadWholeFile(path);
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

// The temp directory holding the clients' credentials; removed at the end.
std::string MakeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "coffer-chaos-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  return made == nullptr ? "" : std::string(made);
}

}  // namespace

std::string DefaultCofferBinary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && std::filesystem::exists(self.parent_path() / "coffer")) {
    return (self.parent_path() / "coffer").string();
  }
  return COFFER_BIN;
}

ChaosCluster::ChaosCluster(const ClusterOptions& options, History* history)
    : options_(options), history_(history), ca_(*node::CreateCertificateAuthority("chaos CA")) {}

StatusOr<std::unique_ptr<ChaosCluster>> ChaosCluster::Start(const ClusterOptions& options,
                                                            History* history) {
  if (options.pairs < 1 || options.pairs > 4 || options.read_only < 0 || options.read_only > 4) {
    return InvalidArgument("a chaos cluster has 1 to 4 pairs and 0 to 4 read-only nodes");
  }
  std::unique_ptr<ChaosCluster> cluster(new ChaosCluster(options, history));
  cluster->dir_ = MakeTempDir();
  if (cluster->dir_.empty()) return Internal("cannot make a temp directory");
  auto admin = node::IssueCertificate(cluster->ca_, {"chaos-admin", "admin", {}, {}, 30});
  if (!admin.ok()) return admin.status();
  const std::string& d = cluster->dir_;
  COFFER_RETURN_IF_ERROR(node::WritePemPair(cluster->ca_, d + "/ca.pem", d + "/ca.key"));
  COFFER_RETURN_IF_ERROR(node::WritePemPair(*admin, d + "/admin.pem", d + "/admin.key"));
  cluster->tls_files_ = {d + "/ca.pem", d + "/admin.pem", d + "/admin.key"};
  COFFER_RETURN_IF_ERROR(cluster->MakeAdminTls());

  const int total = 2 * options.pairs + options.read_only;
  for (int i = 0; i < total; ++i) {
    Member m;
    m.peer_host = "127.0.0." + std::to_string(11 + i);
    m.pair = i < 2 * options.pairs ? i / 2 : -1;
    uint16_t peer_port = integration::FreePort();
    m.proxy = FaultProxy::Start("127.0.0.1", m.peer_host, peer_port);
    if (m.proxy == nullptr) return Internal("cannot start a fault proxy for " + m.peer_host);
    NodeProcessOptions o{.name = "node" + std::to_string(i + 1),
                         .ca = &cluster->ca_,
                         .node_config = integration::PeerAdvertise(m.proxy->port()),
                         .peer_port = peer_port,
                         .peer_host = m.peer_host,
                         .binary = options.binary.empty() ? DefaultCofferBinary() : options.binary};
    if (fault::Enabled()) {
      // The node reads its clock offset from here (missing: none), for R8.
      o.env.push_back(std::string(kClockOffsetFileVariable) + "=" + cluster->dir_ +
                      "/clock-offset-" + std::to_string(i));
    }
    if (!options.planted.empty()) {
      o.env.push_back(std::string(fault::kArmEnvironmentVariable) + "=" + options.planted);
    }
    m.process = std::make_unique<NodeProcess>(o);
    m.name = m.process->name();
    m.address = m.process->address();
    m.log_file = m.process->log_file();
    m.output_file = m.process->output_file();
    if (i == options.small_disk_node) {
      std::string data = m.process->data_dir();
      std::filesystem::create_directories(data);
      std::string size = "size=" + std::to_string(options.small_disk_mib) + "m";
      if (::mount("tmpfs", data.c_str(), "tmpfs", 0, size.c_str()) != 0) {
        return PermissionDenied("cannot mount a tmpfs on " + data +
                                " (the disk-full scenario needs root): " + strerror(errno));
      }
      m.mount = data;
      reaper::SetMount(i, data);
    }
    cluster->members_.push_back(std::move(m));
  }
  COFFER_RETURN_IF_ERROR(cluster->Form());
  return cluster;
}

Status ChaosCluster::MakeAdminTls() {
  auto tls = node::MakeClientTlsContext(tls_files_);
  if (!tls.ok()) return tls.status();
  admin_tls_ = std::move(tls).value();
  return Status::Ok();
}

Status ChaosCluster::Form() {
  auto started = [this](size_t i, std::vector<std::string> args) -> Status {
    auto ok = node(i).Start(std::move(args));
    reaper::SetPid(static_cast<int>(i), node(i).pid());
    if (!ok) return Unavailable(name(i) + " did not start: " + Tail(node(i).output_file()));
    return Status::Ok();
  };
  auto join = [&](size_t i, size_t via, pb::NodeRole role) -> Status {
    pb::Request request;
    request.mutable_join_token()->set_role(role);
    COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(via, request));
    return started(i, {"--join", node(via).address(), "--token", response.join_token().token()});
  };
  COFFER_RETURN_IF_ERROR(started(0, {}));
  pb::Request init;
  init.set_request_id("chaos-cluster-init");
  init.mutable_write()->mutable_cluster_init()->set_name("chaos");
  COFFER_RETURN_IF_ERROR(Ask(0, init).status());
  COFFER_RETURN_IF_ERROR(join(1, 0, pb::NODE_READ_WRITE));
  for (int p = 1; p < options_.pairs; ++p) {
    // A read-only node becomes a pair with the read-write node inducted through it.
    COFFER_RETURN_IF_ERROR(join(2 * p, 0, pb::NODE_READ_ONLY));
    COFFER_RETURN_IF_ERROR(join(2 * p + 1, 2 * p, pb::NODE_READ_WRITE));
  }
  for (size_t i = 2 * options_.pairs; i < size(); ++i) {
    COFFER_RETURN_IF_ERROR(join(i, 0, pb::NODE_READ_ONLY));
  }
  if (!WaitHealthy(kFormTimeout)) return Unavailable("the cluster did not form within 90 s");
  for (size_t i = 0; i < size(); ++i) {
    COFFER_ASSIGN_OR_RETURN(pb::NodeStatus status, StatusOf(i));
    members_[i].node_id = status.node_id();
  }
  return Status::Ok();
}

ChaosCluster::~ChaosCluster() {
  Sample(false);
  if (attached_) {
    // Not ours to stop: a frozen node goes on, the rest stays as it is.
    for (size_t i = 0; i < members_.size(); ++i) Thaw(i);
    return;
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    auto& m = members_[i];
    const pid_t pid = Pid(i);
    if (m.stopped && pid > 0) kill(pid, SIGCONT);
    if (supervised() && pid > 0) {
      // A daemon, not our child: killed and waited for (bounded) before its
      // directory goes.
      kill(pid, SIGKILL);
      WaitFor([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(10),
              std::chrono::milliseconds(10));
    }
    m.process->Kill(SIGKILL);
    if (!m.mount.empty()) ::umount2(m.mount.c_str(), MNT_DETACH);
    reaper::SetPid(static_cast<int>(i), 0);
    reaper::SetPidFile(static_cast<int>(i), "");
    reaper::SetMount(static_cast<int>(i), "");
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void ChaosCluster::Retire(size_t i) {
  Kill9(i);
  std::lock_guard lock(mu_);
  members_[i].retired = true;
}

std::vector<size_t> ChaosCluster::live() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!members_[i].retired) out.push_back(i);
  }
  return out;
}

std::vector<size_t> ChaosCluster::PairOf(int pair) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].pair == pair) out.push_back(i);
  }
  return out;
}

std::vector<size_t> ChaosCluster::ReadWriteNodes() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].pair >= 0) out.push_back(i);
  }
  return out;
}

int ChaosCluster::PeerOf(size_t i) const {
  if (members_[i].pair < 0) return -1;
  return static_cast<int>(i % 2 == 0 ? i + 1 : i - 1);
}

std::vector<std::string> ChaosCluster::addresses() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m.address);
  return out;
}

bool ChaosCluster::Running(size_t i) const {
  if (!supervised()) return members_[i].process->running();
  pid_t pid = Pid(i);
  return pid > 0 && ::kill(pid, 0) == 0;
}

pid_t ChaosCluster::Pid(size_t i) const {
  return supervised() ? supervisor_->PidOf(name(i)) : members_[i].process->pid();
}

void ChaosCluster::Kill9(size_t i) {
  history_->BeginFault({history_->Now(), history_->Now(), "", "kill -9 " + name(i), {name(i)}});
  if (!supervised()) {
    node(i).Kill(SIGKILL);
    reaper::SetPid(static_cast<int>(i), 0);
    return;
  }
  pid_t pid = Pid(i);
  if (pid > 0) ::kill(pid, SIGKILL);
  // Not our child: wait (bounded) until it is gone.
  WaitFor([&] { return pid <= 0 || ::kill(pid, 0) != 0; }, std::chrono::seconds(10),
          std::chrono::milliseconds(10));
}

Status ChaosCluster::Restart(size_t i) {
  bool ok;
  history_->BeginFault({history_->Now(), history_->Now(), "", "restart " + name(i), {name(i)}});
  if (supervised()) {
    COFFER_RETURN_IF_ERROR(supervisor_->Start(name(i)));
    ok = WaitFor([&] { return StatusOf(i).ok(); }, std::chrono::seconds(60),
                 std::chrono::milliseconds(50));
  } else {
    node(i).Launch();
    reaper::SetPid(static_cast<int>(i), node(i).pid());
    ok = static_cast<bool>(node(i).WaitServing(std::chrono::seconds(60)));
  }
  if (!ok) return Unavailable(name(i) + " did not restart: " + Tail(members_[i].output_file));
  return Status::Ok();
}

Status ChaosCluster::Supervise(const std::string& binary) {
  // The sampler reads supervisor_: paused while it changes.
  const bool sampling = sampling_;
  Sample(false);
  supervised_dir_ = dir_ + "/supervised";
  std::filesystem::create_directories(supervised_dir_);
  node::orchestrator::LocalSupervisorOptions options;
  options.dir = supervised_dir_;
  options.default_binary = binary;
  options.stop_timeout = std::chrono::seconds(30);
  // Set before the first node moves, so a failure part way leaves every
  // daemon started so far to the destructor (it kills by pid file).
  supervisor_ = std::make_unique<node::orchestrator::LocalSupervisor>(options);
  for (size_t i : live()) {
    NodeProcess& n = node(i);
    std::string config = n.ConfigWithAbsolutePaths();
    if (config.empty()) return Internal("a file path is missing in " + n.dir() + "/node.toml");
    integration::WriteWholeFile(supervised_dir_ + "/" + name(i) + ".toml", config);
    n.Kill(SIGTERM);
    reaper::SetPid(static_cast<int>(i), 0);
    reaper::SetPidFile(static_cast<int>(i), supervisor_->PathOf(name(i), ".pid"));
    COFFER_RETURN_IF_ERROR(supervisor_->Start(name(i)));
    bool serving = WaitFor([&] { return StatusOf(i).ok(); }, std::chrono::seconds(60),
                           std::chrono::milliseconds(50));
    if (!serving) return Unavailable(name(i) + " did not start under the supervisor");
  }
  Sample(sampling);
  return Status::Ok();
}

void ChaosCluster::Freeze(size_t i) {
  std::lock_guard lock(mu_);
  if (Pid(i) <= 0 || members_[i].stopped) return;
  kill(Pid(i), SIGSTOP);
  members_[i].stopped = true;
  if (attached_) reaper::SetThawPid(static_cast<int>(i), Pid(i));
  size_t band = history_->BeginFault({history_->Now(), -1, "", "SIGSTOP " + name(i), {name(i)}});
  open_bands_.emplace_back("stop" + std::to_string(i), band);
}

void ChaosCluster::Thaw(size_t i) {
  std::lock_guard lock(mu_);
  if (!members_[i].stopped) return;
  if (Pid(i) > 0) kill(Pid(i), SIGCONT);
  members_[i].stopped = false;
  if (attached_) reaper::SetThawPid(static_cast<int>(i), 0);
  for (auto it = open_bands_.begin(); it != open_bands_.end(); ++it) {
    if (it->first == "stop" + std::to_string(i)) {
      history_->EndFault(it->second);
      open_bands_.erase(it);
      break;
    }
  }
}

void ChaosCluster::Cut(size_t from, size_t to) {
  std::lock_guard lock(mu_);
  members_[to].proxy->SetModeFor(members_[from].peer_host, FaultProxy::Mode::kBlackhole);
  size_t band = history_->BeginFault(
      {history_->Now(), -1, "", "cut " + name(from) + "->" + name(to), {name(from), name(to)}});
  open_bands_.emplace_back("net", band);
}

void ChaosCluster::Partition(const std::vector<size_t>& side) {
  std::set<size_t> in(side.begin(), side.end());
  std::string text = "partition {";
  std::vector<std::string> names;
  for (size_t i : side) {
    text += (names.empty() ? "" : ",") + name(i);
    names.push_back(name(i));
  }
  text += "} | rest";
  std::lock_guard lock(mu_);
  for (size_t a = 0; a < size(); ++a) {
    for (size_t b = 0; b < size(); ++b) {
      if (a != b && in.count(a) != in.count(b)) {
        members_[b].proxy->SetModeFor(members_[a].peer_host, FaultProxy::Mode::kBlackhole);
      }
    }
  }
  open_bands_.emplace_back("net", history_->BeginFault({history_->Now(), -1, "", text, names}));
}

void ChaosCluster::Delay(size_t i, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  members_[i].proxy->SetDelay(delay);
  open_bands_.emplace_back(
      "net", history_->BeginFault({history_->Now(),
                                   -1,
                                   "",
                                   "delay " + std::to_string(delay.count()) + " ms into " + name(i),
                                   {name(i)}}));
}

void ChaosCluster::ResetLinks(size_t i) {
  std::lock_guard lock(mu_);
  members_[i].proxy->SetMode(FaultProxy::Mode::kReject);
  members_[i].proxy->SetMode(FaultProxy::Mode::kPass);
  history_->BeginFault(
      {history_->Now(), history_->Now(), "", "reset links into " + name(i), {name(i)}});
}

void ChaosCluster::SetClockOffset(size_t i, int64_t offset_micros) {
  std::lock_guard lock(mu_);
  // Written whole and renamed: the node never reads half a number.
  const std::string path = dir_ + "/clock-offset-" + std::to_string(i);
  integration::WriteWholeFile(path + ".tmp", std::to_string(offset_micros) + "\n");
  std::filesystem::rename(path + ".tmp", path);
  for (auto it = open_bands_.begin(); it != open_bands_.end(); ++it) {
    if (it->first == "clock" + std::to_string(i)) {
      history_->EndFault(it->second);
      open_bands_.erase(it);
      break;
    }
  }
  if (offset_micros != 0) {
    char text[64];
    std::snprintf(text, sizeof text, "clock %+.1f s on ", static_cast<double>(offset_micros) / 1e6);
    open_bands_.emplace_back(
        "clock" + std::to_string(i),
        history_->BeginFault({history_->Now(), -1, "", text + name(i), {name(i)}}));
  }
}

void ChaosCluster::HealNetwork() {
  std::lock_guard lock(mu_);
  for (auto& m : members_) {
    if (m.proxy == nullptr) continue;  // attached: its links are not behind a proxy
    m.proxy->SetMode(FaultProxy::Mode::kPass);
    m.proxy->SetDelay(std::chrono::milliseconds(0));
    for (const auto& other : members_) m.proxy->SetModeFor(other.peer_host, std::nullopt);
  }
  for (auto it = open_bands_.begin(); it != open_bands_.end();) {
    if (it->first == "net") {
      history_->EndFault(it->second);
      it = open_bands_.erase(it);
    } else {
      ++it;
    }
  }
}

StatusOr<std::unique_ptr<node::CofferClient>> ChaosCluster::Connect(size_t i) {
  COFFER_ASSIGN_OR_RETURN(node::HostPort at, node::ParseHostPort(members_[i].address));
  return node::CofferClient::Connect(at.host, at.port, *admin_tls_, std::chrono::seconds(5));
}

StatusOr<pb::Response> ChaosCluster::Call(size_t i, const pb::Request& request) {
  COFFER_ASSIGN_OR_RETURN(auto client, Connect(i));
  return client->Call(request, std::chrono::seconds(10));
}

StatusOr<pb::Response> ChaosCluster::Ask(size_t i, const pb::Request& request) {
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Call(i, request));
  COFFER_RETURN_IF_ERROR(node::StatusFromResponse(response));
  return response;
}

StatusOr<pb::NodeStatus> ChaosCluster::StatusOf(size_t i) {
  pb::Request request;
  request.mutable_node_status();
  COFFER_ASSIGN_OR_RETURN(pb::Response response, Ask(i, request));
  return response.node_status();
}

bool ChaosCluster::Converged(std::string* detail) {
  std::set<std::string> digests;
  std::set<std::string> applied;
  std::string seen;
  for (size_t i : live()) {
    auto status = StatusOf(i);
    if (!status.ok()) {
      if (detail != nullptr) *detail = name(i) + " does not answer: " + status.status().message();
      return false;
    }
    digests.insert(status->digest());
    std::map<uint32_t, uint64_t> sorted(status->applied().applied().begin(),
                                        status->applied().applied().end());
    std::string text;
    for (const auto& [origin, seq] : sorted) {
      text += std::to_string(origin) + ":" + std::to_string(seq) + " ";
    }
    applied.insert(text);
    seen += name(i) + " " + status->digest().substr(0, 12) + " [" + text + "] ";
  }
  if (detail != nullptr) *detail = seen;
  return digests.size() == 1 && applied.size() == 1;
}

double ChaosCluster::WaitConverged(std::chrono::milliseconds timeout, std::string* detail) {
  auto start = std::chrono::steady_clock::now();
  bool ok = WaitFor([&] { return Converged(detail); }, timeout, std::chrono::milliseconds(100));
  if (!ok) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double ChaosCluster::WaitCaughtUp(std::chrono::milliseconds timeout, std::string* detail) {
  auto start = std::chrono::steady_clock::now();
  std::map<uint32_t, uint64_t> heads;  // origin -> its own seq now
  std::map<uint32_t, std::string> names;
  for (size_t i : live()) {
    auto status = StatusOf(i);
    if (!status.ok()) continue;  // checked below, as behind
    auto own = status->applied().applied().find(status->node_id());
    heads[status->node_id()] = own == status->applied().applied().end() ? 0 : own->second;
    names[status->node_id()] = name(i);
  }
  bool ok = WaitFor(
      [&] {
        for (size_t i : live()) {
          auto status = StatusOf(i);
          if (!status.ok()) {
            if (detail != nullptr) *detail = name(i) + " does not answer";
            return false;
          }
          for (const auto& [origin, head] : heads) {
            auto at = status->applied().applied().find(origin);
            uint64_t seq = at == status->applied().applied().end() ? 0 : at->second;
            if (seq < head) {
              if (detail != nullptr) {
                *detail = name(i) + " applied " + names[origin] + "'s log to " +
                          std::to_string(seq) + " of " + std::to_string(head);
              }
              return false;
            }
          }
        }
        return true;
      },
      timeout, std::chrono::milliseconds(100));
  if (!ok) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool ChaosCluster::WaitHealthy(std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        for (size_t i : live()) {
          if (!Running(i)) return false;
          auto status = StatusOf(i);
          if (!status.ok() || status->state() != "ACTIVE") return false;
          if (members_[i].pair >= 0 && status->mode() != "read-write") return false;
        }
        return true;
      },
      timeout, std::chrono::milliseconds(100));
}

void ChaosCluster::SampleOnce() {
  for (size_t i = 0; i < size(); ++i) {
    NodeSample sample{history_->Now(), name(i), "", ""};
    bool stopped, retired;
    {
      std::lock_guard lock(mu_);
      stopped = members_[i].stopped;
      retired = members_[i].retired;
    }
    if (retired) {
      sample.state = "deleted";
    } else if (stopped) {
      sample.state = "stopped";
    } else if (!Running(i)) {
      sample.state = "down";
    } else {
      auto client = Connect(i);
      StatusOr<pb::NodeStatus> status = Unavailable("no connection");
      if (client.ok()) {
        pb::Request request;
        request.mutable_node_status();
        auto response = (*client)->Call(request, std::chrono::milliseconds(500));
        if (response.ok()) status = response->node_status();
      }
      sample.state = status.ok() ? status->state() : "unreachable";
      sample.mode = status.ok() ? status->mode() : "";
    }
    history_->AddSample(std::move(sample));
  }
}

void ChaosCluster::Sample(bool on) {
  if (on == sampling_.exchange(on)) return;
  if (on) {
    sampler_ = std::thread([this] {
      while (sampling_) {
        auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        SampleOnce();
        std::this_thread::sleep_until(next);  // the sampling period, not a wait for a condition
      }
    });
  } else if (sampler_.joinable()) {
    sampler_.join();
  }
}

void ChaosCluster::CopyLogs(const std::string& dir) const {
  std::filesystem::create_directories(dir + "/logs");
  for (const auto& m : members_) {
    std::error_code ec;
    const std::string& n = m.name;
    std::filesystem::copy_file(m.log_file, dir + "/logs/" + n + ".log",
                               std::filesystem::copy_options::overwrite_existing, ec);
    std::filesystem::copy_file(m.output_file, dir + "/logs/" + n + ".out",
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (supervised()) {  // the daemons' output (R9)
      std::filesystem::copy_file(supervisor_->PathOf(n, ".out"), dir + "/logs/" + n + ".daemon.out",
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
  }
}

}  // namespace coffer::chaos
