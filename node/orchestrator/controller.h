// What the rolling-upgrade orchestrator asks of whatever runs the node
// processes (semantics.md section 7): observe, stop, swap the binary, start,
// and check a binary against a node's store. Nodes are named by their
// member name. Implementations: LocalSupervisor (processes on this machine,
// the layout of scripts/start-local.sh; also the tests), CommandController
// (command templates for real hosts, e.g. systemd over ssh), and the test
// harness's controller over NodeProcess.
#pragma once

#include <string>

#include "common/status.h"

namespace coffer::node::orchestrator {

struct ProcessView {
  bool running = false;
  std::string installed_binary;  // what Start runs
};

class NodeController {
 public:
  virtual ~NodeController() = default;

  virtual StatusOr<ProcessView> Observe(const std::string& node) = 0;
  // Stops the node's process and returns once it has ended (a node that is
  // not running: OK).
  virtual Status Stop(const std::string& node) = 0;
  // Starts the node's process with its installed binary and returns once it
  // is launched (not once it serves). A running node: OK, nothing done.
  virtual Status Start(const std::string& node) = 0;
  // Installs `binary` for the node's next start, keeping the one it
  // replaces (the plan records it for a rollback).
  virtual Status Swap(const std::string& node, const std::string& binary) = 0;
  // The release `binary` reports on the node's host; NOT_FOUND if missing.
  virtual StatusOr<std::string> BinaryRelease(const std::string& node,
                                              const std::string& binary) = 0;
  // `binary node check-store` on the node's store: OK, or why it refuses.
  virtual Status CheckStore(const std::string& node, const std::string& binary) = 0;
};

}  // namespace coffer::node::orchestrator
