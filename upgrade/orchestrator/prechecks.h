// The rolling upgrade's named pre-checks (semantics.md section 7), without
// I/O: each is computed from an observation and reported with what was
// observed. Only some may be overridden, by name, and the override is
// recorded in the plan; there is no global "force".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/release.h"
#include "common/status.h"
#include "proto/records.pb.h"
#include "upgrade/orchestrator/observation.h"

namespace coffer::upgrade {

struct PrecheckOptions {
  // replication-lag: the largest lag of any link. Default: 5 s.
  int64_t max_lag_ms = 5'000;
  // max-disable-duration: the cluster's maximum disable duration must
  // exceed the time one node is expected to stay disabled. Default: 10 min.
  int64_t expected_node_seconds = 600;
  // certificates: every node certificate valid at least this long.
  // Default: 7 days.
  int64_t min_certificate_seconds = 7 * 24 * 3600;
  // disk-headroom: free bytes at least twice the store and at least this.
  // Default: 64 MiB.
  int64_t min_free_bytes = 64LL << 20;
};

// The checks, in report order (also what `coffer upgrade plan` prints).
inline constexpr std::string_view kPrecheckNames[] = {
    "no-other-plan", "target-release",  "members-reachable",    "members-active",
    "no-disabled",   "replication-lag", "max-disable-duration", "backup",
    "certificates",  "disk-headroom",   "binary-present",       "check-store",
};

// A check an operator may override (`--override NAME`): backup,
// certificates, disk-headroom, replication-lag and max-disable-duration.
// The others guard what an upgrade must never do (skip a release, run two
// plans, take down a pair, start a binary that refuses its store).
bool Overridable(std::string_view name);

// Every check, in kPrecheckNames order. A failed, overridable check named in
// `overrides` passes with overridden set.
std::vector<pb::UpgradeCheck> RunPrechecks(const ClusterObservation& observation,
                                           const Release& target,
                                           const std::vector<std::string>& overrides,
                                           const PrecheckOptions& options);

// OK when every check passed. Otherwise UPGRADE_IN_PROGRESS when another
// plan runs, else PRECHECK_FAILED naming each failed check and what it saw.
Status PrecheckVerdict(const std::vector<pb::UpgradeCheck>& checks);

// INVALID_ARGUMENT for an override that is not a check, or not one that may
// be overridden.
Status ValidateOverrides(const std::vector<std::string>& overrides);

}  // namespace coffer::upgrade
