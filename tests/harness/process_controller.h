// The rolling-upgrade orchestrator's controller over the test harness's
// NodeProcess objects (node/orchestrator/controller.h): stop is SIGTERM and
// a reap, start launches the node's binary, swap sets the binary of its
// next start. Nodes are children of the test process, so the test can also
// kill them. Thread-safe: one mutex around every call.
#pragma once

#include <signal.h>

#include <mutex>
#include <string>
#include <vector>

#include "node/orchestrator/controller.h"
#include "node/orchestrator/local_supervisor.h"
#include "node/orchestrator/run_command.h"
#include "tests/harness/node_process.h"

namespace coffer::integration {

class NodeProcessController final : public node::orchestrator::NodeController {
 public:
  explicit NodeProcessController(std::vector<NodeProcess*> nodes) : nodes_(std::move(nodes)) {}

  StatusOr<node::orchestrator::ProcessView> Observe(const std::string& name) override {
    std::lock_guard lock(mu_);
    COFFER_ASSIGN_OR_RETURN(NodeProcess * n, Find(name));
    return node::orchestrator::ProcessView{n->running(), n->binary()};
  }
  Status Stop(const std::string& name) override {
    std::lock_guard lock(mu_);
    COFFER_ASSIGN_OR_RETURN(NodeProcess * n, Find(name));
    ++stops_[name];
    n->Kill(SIGTERM);
    return Status::Ok();
  }
  Status Start(const std::string& name) override {
    std::lock_guard lock(mu_);
    COFFER_ASSIGN_OR_RETURN(NodeProcess * n, Find(name));
    if (!n->running()) n->Launch();
    return Status::Ok();
  }
  Status Swap(const std::string& name, const std::string& binary) override {
    std::lock_guard lock(mu_);
    COFFER_ASSIGN_OR_RETURN(NodeProcess * n, Find(name));
    n->set_binary(binary);
    return Status::Ok();
  }
  StatusOr<std::string> BinaryRelease(const std::string&, const std::string& binary) override {
    return node::orchestrator::ReleaseOfBinary(binary, std::chrono::seconds(30));
  }
  Status CheckStore(const std::string& name, const std::string& binary) override {
    std::string data_dir;
    {
      std::lock_guard lock(mu_);
      COFFER_ASSIGN_OR_RETURN(NodeProcess * n, Find(name));
      data_dir = n->data_dir();
    }
    COFFER_ASSIGN_OR_RETURN(auto r, node::orchestrator::RunCommand(
                                        {binary, "node", "check-store", "--data-dir", data_dir},
                                        std::chrono::seconds(30)));
    if (r.exit_code == 0) return Status::Ok();
    return Status(Code::kIncompatibleVersion, r.output);
  }

  // Kills `name` with `signal` outside the orchestrator (a fault).
  void KillNode(const std::string& name, int signal) {
    std::lock_guard lock(mu_);
    auto n = Find(name);
    if (n.ok()) (*n)->Kill(signal);
  }
  // Starts `name` again outside the orchestrator (its supervisor's restart).
  void StartNode(const std::string& name) {
    std::lock_guard lock(mu_);
    auto n = Find(name);
    if (n.ok() && !(*n)->running()) (*n)->Launch();
  }
  // Times the orchestrator stopped `name`.
  int StopsOf(const std::string& name) {
    std::lock_guard lock(mu_);
    return stops_[name];
  }

 private:
  StatusOr<NodeProcess*> Find(const std::string& name) {
    for (NodeProcess* n : nodes_) {
      if (n->name() == name) return n;
    }
    return NotFound("no node process " + name);
  }

  std::mutex mu_;
  std::vector<NodeProcess*> nodes_;
  std::map<std::string, int> stops_;
};

}  // namespace coffer::integration
