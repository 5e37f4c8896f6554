// Gathering an upgrade::ClusterObservation: the membership and plan from one
// node's cluster status, each member's own status (its release, links, lag,
// plan revision, disk and certificate), and each member's process from the
// controller.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/orchestrator/controller.h"
#include "proto/api.pb.h"
#include "upgrade/orchestrator/observation.h"

namespace coffer::node::orchestrator {

struct ClusterAccess {
  // One request to the node at client address `address` ("host:port"); the
  // implementation bounds it with a short timeout.
  std::function<StatusOr<pb::Response>(const std::string& address, const pb::Request& request)>
      call;
  // Asked for the cluster status, in order, until one answers (the
  // members' addresses are tried after them).
  std::vector<std::string> entry_addresses;
};

struct Observed {
  upgrade::ClusterObservation observation;
  std::map<uint32_t, std::string> addresses;  // node id -> client address
  std::string answered_by;                    // the address whose cluster status it is
};

struct ObserveOptions {
  // Also ask the controller for `target_binary`'s release and run its
  // check-store on every node (the pre-checks; slow).
  bool binary_checks = false;
  std::string target_binary;
};

// Each member's state is its own view of itself when it answers; the plan is
// the newest revision any member has. UNAVAILABLE if no entry address (nor
// any member known from `known`) answered its cluster status.
// `controller` nullptr: no process or binary is observed (`coffer upgrade
// status`).
StatusOr<Observed> ObserveCluster(const ClusterAccess& access, NodeController* controller,
                                  const ObserveOptions& options, int64_t now_micros,
                                  const std::map<uint32_t, std::string>& known = {});

// A member's own status as the orchestrator reads it (links down, lag,
// unreplicated records, progress).
void FillFromNodeStatus(const pb::NodeStatus& status, upgrade::NodeObservation* node);

}  // namespace coffer::node::orchestrator
