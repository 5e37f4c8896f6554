// A controller for nodes on real hosts: each action is a shell command made
// from a template (docs/upgrade-orchestrator.md has a systemd-over-ssh
// example). Placeholders {node} (member name), {host} (from [hosts]; the
// member name if absent) and {binary} are replaced by their shell-quoted
// values; the command runs with /bin/sh -c and exit status 0 is success.
//
//   [commands]
//   running = "..."      exit 0 when the node's process runs
//   installed = "..."    prints the binary Start would run
//   stop = "..."         returns once the process has ended
//   start = "..."
//   swap = "..."         installs {binary}, keeping the old one
//   version = "..."      prints the release of {binary} ("{binary} --version")
//   check_store = "..."  `{binary} node check-store --data-dir DIR` on the host
//   timeout_seconds = 120
//   [hosts]
//   node1 = "kv1.example.net"
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "node/orchestrator/controller.h"

namespace coffer::node::orchestrator {

struct CommandTemplates {
  std::string running, installed, stop, start, swap, version, check_store;
  std::chrono::milliseconds timeout{120'000};  // each command. Default: 120 s
  std::map<std::string, std::string> hosts;    // member name -> host
};

// Reads the TOML file above. INVALID_ARGUMENT naming a missing command or an
// unknown key.
StatusOr<CommandTemplates> LoadCommandTemplates(const std::string& path);

// `text` with {node}, {host} and {binary} replaced by their quoted values.
std::string ExpandTemplate(const std::string& text, const std::string& node,
                           const std::string& host, const std::string& binary);

class CommandController final : public NodeController {
 public:
  explicit CommandController(CommandTemplates templates) : t_(std::move(templates)) {}

  StatusOr<ProcessView> Observe(const std::string& node) override;
  Status Stop(const std::string& node) override;
  Status Start(const std::string& node) override;
  Status Swap(const std::string& node, const std::string& binary) override;
  StatusOr<std::string> BinaryRelease(const std::string& node, const std::string& binary) override;
  Status CheckStore(const std::string& node, const std::string& binary) override;

 private:
  // Runs template `text` for `node`; UNAVAILABLE naming `what` on a
  // non-zero exit, with the command's output.
  StatusOr<std::string> Run(const std::string& what, const std::string& text,
                            const std::string& node, const std::string& binary = "");
  CommandTemplates t_;
};

}  // namespace coffer::node::orchestrator
