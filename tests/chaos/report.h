// What coffer-chaos prints and writes: one line per check with PASS/FAIL and
// its figures, the whole result as JSON (-o json), and a scenario's report
// folder (result.json, the history's JSON lines, the timeline picture
// timeline.svg and timeline.html, and logs/ with every node's log).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/chaos/history.h"
#include "tests/chaos/scenario.h"

namespace coffer::chaos {

nlohmann::json ToJson(const ScenarioResult& result);
// Reads back what ToJson wrote (for `coffer-chaos report DIR`); errors name
// the missing or mistyped key.
StatusOr<ScenarioResult> ScenarioResultFromJson(const nlohmann::json& json);

// The text of one scenario's result:
//   R1 PASS  kill -9 of a random node under load, restart  (38.2 s)
//     PASS  convergence      5 nodes converged 0.41 s after healing
//     ...
//     figures: iterations 3, acknowledged writes 1,204, ...
// and, when it failed, each failure and the replay command.
std::string FormatResult(const ScenarioResult& result);

// Writes result.json, history.jsonl, faults.jsonl, nodes.jsonl,
// timeline.svg and timeline.html into `dir` (which must exist).
Status WriteScenarioReport(const std::string& dir, const ScenarioResult& result,
                           const History& history);

}  // namespace coffer::chaos
