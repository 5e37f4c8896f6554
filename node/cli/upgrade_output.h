// How `coffer upgrade` shows a plan, its pre-checks and its progress.
#pragma once

#include <string>
#include <vector>

#include "node/cli/cli_output.h"
#include "proto/records.pb.h"
#include "upgrade/orchestrator/observation.h"
#include "upgrade/orchestrator/stepper.h"

namespace coffer::node::cli {

// The plan: its state, releases, each node in order with its step, why it
// paused, and the pre-checks it started with.
std::string RenderUpgradePlan(const pb::UpgradePlan& plan, OutputFormat format);

// The pre-checks, one line each: PASS/FAIL/OVERRIDDEN, name, observed.
std::string RenderUpgradeChecks(const std::vector<pb::UpgradeCheck>& checks);

// One progress line: "[2/5] node3 WAIT_ACTIVE: state ENABLING (12 s)".
std::string UpgradeProgressLine(const pb::UpgradePlan& plan, const upgrade::Decision& d,
                                int64_t now_micros);

}  // namespace coffer::node::cli
