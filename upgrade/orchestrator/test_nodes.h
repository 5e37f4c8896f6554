// Test helper for the orchestrator's unit tests: a member observation that
// passes every check (ACTIVE, reachable, on 0.2.0, running `coffer`, with
// disk, a certificate valid a year after `now_micros`, the 0.3.0 binary).
#pragma once

#include <cstdint>
#include <string>

#include "upgrade/orchestrator/observation.h"

namespace coffer::upgrade::testing {

inline NodeObservation HealthyNode(uint32_t id, pb::NodeRole role, uint32_t peer,
                                   int64_t now_micros) {
  NodeObservation n;
  n.node_id = id;
  n.name = "n" + std::to_string(id);
  n.role = role;
  n.peer = peer;
  n.state = "ACTIVE";
  n.reachable = true;
  n.running_release = "0.2.0";
  n.recorded_release = "0.2.0";
  n.disk_free_bytes = 1LL << 40;
  n.store_bytes = 1 << 20;
  n.cert_not_after = now_micros / 1'000'000 + 365 * 24 * 3600;
  n.process_running = true;
  n.installed_binary = "coffer";
  n.target_binary_release = "0.3.0";
  return n;
}

}  // namespace coffer::upgrade::testing
