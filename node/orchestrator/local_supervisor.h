// The local process supervisor: runs the nodes of a cluster on this machine
// in the layout scripts/start-local.sh makes, one directory holding for
// each node NAME:
//   NAME.toml            its config (data_dir is read from it)
//   NAME.pid             the pid of its running process
//   NAME.out             its stdout and stderr (appended)
//   NAME.binary          the binary it runs (absent: the default binary)
//   NAME.binary.previous the binary the last swap replaced
// Processes are started as daemons (their own session, not children of the
// orchestrator), so they outlive an orchestrator killed mid-plan.
#pragma once

#include <chrono>
#include <string>

#include "node/orchestrator/controller.h"

namespace coffer::node::orchestrator {

struct LocalSupervisorOptions {
  std::string dir;             // the cluster directory (e.g. .cluster)
  std::string default_binary;  // run when NAME.binary is absent
  // How long Stop waits after SIGTERM before SIGKILL. Default: 60 s.
  std::chrono::milliseconds stop_timeout{60'000};
  // Bound on `--version` and `node check-store`. Default: 60 s.
  std::chrono::milliseconds command_timeout{60'000};
};

class LocalSupervisor final : public NodeController {
 public:
  explicit LocalSupervisor(LocalSupervisorOptions options);

  StatusOr<ProcessView> Observe(const std::string& node) override;
  Status Stop(const std::string& node) override;
  Status Start(const std::string& node) override;
  Status Swap(const std::string& node, const std::string& binary) override;
  StatusOr<std::string> BinaryRelease(const std::string& node, const std::string& binary) override;
  Status CheckStore(const std::string& node, const std::string& binary) override;

  // The file of `node` with `suffix` (".toml", ".pid", ...).
  std::string PathOf(const std::string& node, const std::string& suffix) const;
  // The binary Start runs for `node`.
  std::string InstalledBinary(const std::string& node) const;
  // The pid in NAME.pid (0: none).
  pid_t PidOf(const std::string& node) const;

 private:
  LocalSupervisorOptions options_;
};

// The release a `coffer` binary reports (`BINARY --version`), for both
// controllers; NOT_FOUND if it is missing or does not run.
StatusOr<std::string> ReleaseOfBinary(const std::string& binary, std::chrono::milliseconds timeout);

}  // namespace coffer::node::orchestrator
