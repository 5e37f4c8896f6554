#include "node/orchestrator/local_supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/release.h"
#include "node/config/config.h"
#include "node/orchestrator/run_command.h"

namespace coffer::node::orchestrator {
namespace {

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Writes `text` to `path` through a temporary file and a rename.
Status WriteAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    if (!out.flush()) return Unavailable("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> ReleaseOfBinary(const std::string& binary,
                                      std::chrono::milliseconds timeout) {
  if (::access(binary.c_str(), X_OK) != 0) return NotFound("no executable " + binary);
  COFFER_ASSIGN_OR_RETURN(CommandResult r, RunCommand({binary, "--version"}, timeout));
  std::string text = r.output;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (r.exit_code != 0 || !Release::Parse(text)) {
    return NotFound(binary + " --version did not print a release: " + text.substr(0, 200));
  }
  return text;
}

LocalSupervisor::LocalSupervisor(LocalSupervisorOptions options) : options_(std::move(options)) {}

std::string LocalSupervisor::PathOf(const std::string& node, const std::string& suffix) const {
  return options_.dir + "/" + node + suffix;
}

std::string LocalSupervisor::InstalledBinary(const std::string& node) const {
  std::string b = ReadLine(PathOf(node, ".binary"));
  return b.empty() ? options_.default_binary : b;
}

pid_t LocalSupervisor::PidOf(const std::string& node) const {
  std::string text = ReadLine(PathOf(node, ".pid"));
  char* end = nullptr;
  long pid = std::strtol(text.c_str(), &end, 10);
  return pid > 0 && end != nullptr && *end == '\0' ? static_cast<pid_t>(pid) : 0;
}

StatusOr<ProcessView> LocalSupervisor::Observe(const std::string& node) {
  if (!std::filesystem::exists(PathOf(node, ".toml"))) {
    return NotFound("no config " + PathOf(node, ".toml") + " for node " + node);
  }
  ProcessView view;
  view.running = ProcessAlive(PidOf(node));
  view.installed_binary = InstalledBinary(node);
  return view;
}

Status LocalSupervisor::Stop(const std::string& node) {
  pid_t pid = PidOf(node);
  if (!ProcessAlive(pid)) return Status::Ok();
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + options_.stop_timeout;
  while (ProcessAlive(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll, bounded by deadline
  }
  if (ProcessAlive(pid)) {
    ::kill(pid, SIGKILL);
    const auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ProcessAlive(pid) && std::chrono::steady_clock::now() < kill_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (ProcessAlive(pid)) return Unavailable("node " + node + " did not end after SIGKILL");
  }
  return Status::Ok();
}

Status LocalSupervisor::Start(const std::string& node) {
  if (ProcessAlive(PidOf(node))) return Status::Ok();
  std::string config = PathOf(node, ".toml");
  if (!std::filesystem::exists(config)) return NotFound("no config " + config);
  std::string dir = std::filesystem::absolute(options_.dir).string();
  COFFER_ASSIGN_OR_RETURN(
      pid_t pid, SpawnDaemon({InstalledBinary(node), "node", "start", "--config",
                              std::filesystem::absolute(config).string()},
                             std::filesystem::absolute(PathOf(node, ".out")).string(), dir));
  return WriteAtomically(PathOf(node, ".pid"), std::to_string(pid));
}

Status LocalSupervisor::Swap(const std::string& node, const std::string& binary) {
  if (::access(binary.c_str(), X_OK) != 0) return NotFound("no executable " + binary);
  COFFER_RETURN_IF_ERROR(WriteAtomically(PathOf(node, ".binary.previous"), InstalledBinary(node)));
  return WriteAtomically(PathOf(node, ".binary"), binary);
}

StatusOr<std::string> LocalSupervisor::BinaryRelease(const std::string&,
                                                     const std::string& binary) {
  return ReleaseOfBinary(binary, options_.command_timeout);
}

Status LocalSupervisor::CheckStore(const std::string& node, const std::string& binary) {
  COFFER_ASSIGN_OR_RETURN(NodeConfig config, LoadConfigFile(PathOf(node, ".toml")));
  COFFER_ASSIGN_OR_RETURN(CommandResult r, RunCommand({binary, "node", "check-store", "--data-dir",
                                                       config.node.data_dir},
                                                      options_.command_timeout));
  if (r.exit_code == 0) return Status::Ok();
  std::string text = r.output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return Status(Code::kIncompatibleVersion, text.substr(0, 500));
}

}  // namespace coffer::node::orchestrator
