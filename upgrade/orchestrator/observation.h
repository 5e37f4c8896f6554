// What the rolling-upgrade orchestrator knows of the cluster at one moment:
// gathered by its driver (node/orchestrator/) from every member's status and
// from the controller that runs the node processes, or by the simulation.
// Plain values: the plan, pre-check and step logic (plan_builder.h,
// prechecks.h, stepper.h) decide from these alone, without I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/records.pb.h"

namespace coffer::upgrade {

struct NodeObservation {
  uint32_t node_id = 0;
  std::string name;
  pb::NodeRole role = pb::NODE_ROLE_UNSPECIFIED;
  uint32_t peer = 0;  // its read-write pair peer (0: none)
  // Its membership state as the cluster sees it: PENDING, ACTIVE,
  // DISABLING, DISABLED, ENABLING or EXPIRED.
  std::string state;

  // From the node itself (its status); unset fields when unreachable.
  bool reachable = false;
  std::string reachable_error;   // why it did not answer
  std::string running_release;   // the release of the binary it runs
  std::string recorded_release;  // its membership row's release
  uint64_t plan_revision = 0;    // the upgrade plan revision it has
  // Members it has not heard from within the failure-detection bound.
  std::vector<uint32_t> links_down;
  int64_t max_lag_ms = 0;        // the largest replication lag of its links
  uint64_t unreplicated = 0;     // its own records some member still lacks
  uint64_t applied_total = 0;    // sum of its applied vector (progress)
  int64_t disk_free_bytes = -1;  // -1: unknown
  uint64_t store_bytes = 0;
  int64_t cert_not_after = 0;  // Unix seconds; 0: unknown

  // From the controller.
  bool process_running = false;
  std::string installed_binary;  // what the controller starts for it
  // The plan's target binary on this node's host: the release it reports
  // ("" missing) and `node check-store` on this node's store ("" passed).
  std::string target_binary_release;
  std::string check_store_error;
  // The controller's last action on this node failed (shown when a wait
  // times out).
  std::string last_action_error;
};

struct ClusterObservation {
  int64_t now_micros = 0;              // wall time
  std::vector<NodeObservation> nodes;  // every non-deleted member, by id
  std::string cluster_version;         // major.minor
  bool version_held = false;
  uint64_t max_disable_seconds = 0;
  std::optional<pb::UpgradePlan> plan;  // as the answering node has it

  const NodeObservation* Find(uint32_t node_id) const {
    for (const auto& n : nodes) {
      if (n.node_id == node_id) return &n;
    }
    return nullptr;
  }
};

}  // namespace coffer::upgrade
