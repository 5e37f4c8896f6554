// coffer-chaos scenarios (quality.md R1-R11): what a scenario is, the options
// of a run, and what a run gives. The scenarios themselves are in
// scenarios_nodes.cc (R1, R2, R5), scenarios_network.cc (R3, R4),
// scenarios_states.cc (R6, R7), scenarios_clock.cc (R8),
// scenarios_upgrade.cc (R9) and scenarios_planted.cc (R10, R11).
//
// A process scenario runs on a fresh ChaosCluster (RunOnCluster): clients
// write through the whole run; the scenario injects its fault `iterations`
// times, healing after each; then every fault is healed, unknown outcomes
// are retried, and the checks of checkers.h run on every node, with the
// scenario's own checks beside them. Everything random is drawn from the
// seed (which node, when, how long), so a run is replayed by its seed; the
// nodes' own timing is not, so a replay repeats the faults, not every
// interleaving.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/chaos/chaos_cluster.h"
#include "tests/chaos/checkers.h"
#include "tests/chaos/history.h"
#include "tests/chaos/workload.h"

namespace coffer::chaos {

// How long a scenario waits for the cluster to recover after a fault heals
// (a node back ACTIVE, a pair writable again) before it reports a failure.
inline constexpr std::chrono::seconds kRecoveryTimeout{60};

struct RunOptions {
  uint64_t seed = 1;
  int iterations = 0;   // 0: the scenario's short default (what CI runs)
  double duration = 0;  // seconds of load per iteration; 0: the scenario's default
  int pairs = 2;
  int read_only = 1;
  int clients = 4;
  std::string planted;     // fault points armed in every node (R11 sets it)
  std::string binary;      // the `coffer` the nodes run ("": ClusterOptions' default)
  std::string report_dir;  // where this scenario's report goes ("" = none)
  // A running cluster to drive instead of one started for the run: the
  // directory scripts/start-local.sh made (ChaosCluster::Attach). "" = none.
  std::string local_dir;
  // A line of progress (a fault injected, an iteration done); may be empty.
  std::function<void(const std::string&)> progress;
};

struct ScenarioResult {
  std::string name;   // "R1"
  std::string title;  // "kill -9 of a random node under load, restart"
  bool pass = false;
  std::vector<Check> checks;
  std::vector<std::pair<std::string, std::string>> figures;  // ("iterations", "5"), ...
  std::string error;  // set when the run could not be carried out (the cluster did not form)
  // Set (with error saying why) when the run needs what this machine does
  // not give (R7's tmpfs needs root): neither PASS nor FAIL.
  bool skipped = false;
  double seconds = 0;  // wall time of the run
  std::string replay;  // the command that replays it
};

// What a process scenario's fault step can use.
struct Context {
  ChaosCluster& cluster;
  Ledger& ledger;
  PairProbe& pair_probe;
  RestrictedProbe& restricted_probe;
  const RunOptions& options;
  std::mt19937_64 rng;
  // The scenario's own checks. A deque: OwnCheck hands out references that
  // must stay valid as more checks are added.
  std::deque<Check> checks{};
  std::vector<std::pair<std::string, std::string>> figures{};
  std::vector<double> recovery_seconds{};  // per fault, from heal to healthy
  // Other per-fault durations a scenario collects (R3: seconds to restricted).
  std::vector<double> seconds{};

  // Progress line.
  void Say(const std::string& line) const {
    if (options.progress) options.progress(line);
  }
  // A random duration in [low, high] milliseconds.
  std::chrono::milliseconds Between(int low, int high) {
    return std::chrono::milliseconds(low + static_cast<int>(rng() % (high - low + 1)));
  }
  // Lets the load run for `d` (the clients keep writing meanwhile).
  static void Load(std::chrono::milliseconds d);
  // Waits until every node is healthy again (recovery), noting how long it
  // took since `since` in recovery_seconds; a timeout is a failure of check
  // "recovery".
  bool Recovered(std::chrono::steady_clock::time_point since, std::chrono::seconds timeout);
  // "12 values: median 1.05 s, max 1.13 s" of `values`.
  static std::string MedianAndMax(std::vector<double> values);
  // A named check of this scenario (found or added).
  Check& OwnCheck(const std::string& name);
};

struct Scenario {
  std::string name;
  std::string title;
  int default_iterations = 3;
  double default_duration = 2;  // seconds
  // Shape changes the scenario needs (R7's small disk).
  std::function<void(ClusterOptions&)> shape{};
  // One iteration of the fault (process scenarios); nullptr for R10/R11.
  std::function<void(Context&, int iteration)> fault{};
  // After the iterations, before the final heal (R6's expiry).
  std::function<void(Context&)> finale{};
  // A scenario that is not a process run (R10, R11).
  std::function<ScenarioResult(const Scenario&, const RunOptions&)> custom{};
  // Why the scenario cannot run on this machine or build ("" = it can):
  // the run is then SKIPPED, neither PASS nor FAIL.
  std::function<std::string(const RunOptions&)> unavailable{};
  // Runs on a cluster it did not start (`run --local`): it needs only
  // process signals and the client API (R1, R2, R5), or no cluster (R10).
  bool attachable = false;
};

// Every scenario, R1 to R11 in order.
const std::vector<Scenario>& Scenarios();
// The scenario named `name` (case-insensitive "r1" or "R1"), or nullptr.
const Scenario* FindScenario(const std::string& name);

// Runs a process scenario as described above.
ScenarioResult RunOnCluster(const Scenario& scenario, const RunOptions& options);
// Runs any scenario (custom or process); stamps the time and replay command.
ScenarioResult RunScenario(const Scenario& scenario, const RunOptions& options);

// The scenario lists of the files above (Scenarios() joins them).
std::vector<Scenario> NodeScenarios();
std::vector<Scenario> NetworkScenarios();
std::vector<Scenario> StateScenarios();
std::vector<Scenario> ClockScenarios();
std::vector<Scenario> UpgradeScenarios();
std::vector<Scenario> PlantedScenarios();

// The command that replays a scenario with these options.
std::string ReplayCommand(const std::string& scenario, const RunOptions& options);

}  // namespace coffer::chaos
