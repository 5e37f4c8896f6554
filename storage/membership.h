// Membership helpers shared by the node, the CLI and storage: how a member's
// stored lifecycle state reads, and when a disabled node has expired
// (semantics.md section 5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "proto/records.pb.h"

namespace coffer::storage {

// The cluster's maximum disable duration when none was set: 24 h.
inline constexpr uint64_t kDefaultMaxDisableSeconds = 24 * 3600;

// The maximum disable duration in microseconds (the default if unset).
int64_t MaxDisableMicros(const pb::StoredCluster& cluster);

// The stored state; rows from before node states read as ACTIVE.
pb::NodeState StoredState(const pb::StoredNode& node);

// A DISABLED node whose window (disabled_at + maximum disable duration) has
// ended at wall time `now_micros`. Its data is never merged again.
bool DisableExpired(const pb::StoredNode& node, const pb::StoredCluster& cluster,
                    int64_t now_micros);

// Microseconds left in a DISABLED node's window (0 once expired; -1 if the
// node is not DISABLED).
int64_t DisableTimeLeftMicros(const pb::StoredNode& node, const pb::StoredCluster& cluster,
                              int64_t now_micros);

// "PENDING", "ACTIVE", "DISABLING", "DISABLED", "ENABLING", "EXPIRED" or
// "DELETED": the state as status shows it.
std::string_view NodeStateName(const pb::StoredNode& node, const pb::StoredCluster& cluster,
                               int64_t now_micros);

// The rolling-upgrade plan in `cluster` while it runs: RUNNING, PAUSED,
// DONE (not yet finalized) or ROLLING_BACK; nullptr otherwise.
const pb::UpgradePlan* ActiveUpgradePlan(const pb::StoredCluster& cluster);
bool UpgradePlanActive(const pb::UpgradePlan& plan);

// UPGRADE_IN_PROGRESS naming the active plan, its state and its owner, for
// `what` ("a membership change"); OK when no plan is active.
Status RefuseDuringUpgrade(const pb::StoredCluster& cluster, std::string_view what);

}  // namespace coffer::storage
