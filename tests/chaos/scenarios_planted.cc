// R10 (the deterministic simulation, N seeds) and R11 (planted bugs: each
// one must turn its scenario FAIL on the property it breaks).
#include <algorithm>

#include "common/fault_point.h"
#include "tests/chaos/scenario.h"
#include "tests/sim/simulation.h"

namespace coffer::chaos {
namespace {

ScenarioResult RunSimulationSeeds(const Scenario& scenario, const RunOptions& options) {
  ScenarioResult result;
  result.name = scenario.name;
  result.title = scenario.title;
  const int seeds = options.iterations > 0 ? options.iterations : scenario.default_iterations;
  Check check{"simulation"};
  uint64_t acked = 0, crashes = 0, disk_faults = 0;
  double slowest = 0;
  for (int k = 0; k < seeds; ++k) {
    sim::SimOptions sim_options;
    sim_options.seed = options.seed + static_cast<uint64_t>(k);
    sim::SimResult r = sim::RunSimulation(sim_options);
    acked += r.acked_writes;
    crashes += r.crashes;
    disk_faults += r.disk_faults;
    slowest = std::max(slowest, r.converged_after_seconds);
    if (!r.ok) {
      check.Fail("seed " + std::to_string(r.seed) + ": " +
                 (r.violations.empty() ? r.Summary() : r.violations.front()) +
                 " (replay: " + r.ReplayCommand() + ")");
    }
    if (options.progress && (k + 1) % 100 == 0) {
      options.progress("R10: " + std::to_string(k + 1) + "/" + std::to_string(seeds) + " seeds");
    }
  }
  check.figures = std::to_string(seeds) + " seeds from " + std::to_string(options.seed) + ", " +
                  std::to_string(acked) + " acknowledged writes, " + std::to_string(crashes) +
                  " crashes, " + std::to_string(disk_faults) +
                  " disk faults, slowest convergence " + std::to_string(slowest).substr(0, 4) +
                  " virtual s";
  result.checks.push_back(check);
  result.figures.emplace_back("seeds", std::to_string(seeds));
  result.pass = check.pass;
  return result;
}

// One planted bug: the fault point armed in every node (or in the
// simulation), the scenario that must catch it, and the check that must fail.
struct Plant {
  std::string point;
  std::string scenario;  // "R3", or "sim" for the simulation
  std::string check;     // the check that must FAIL
  std::string why;       // for the figures
  int iterations = 1;    // of the scenario, for a short run
  // A failure of `check` counts only if its text has this: what the bug
  // makes happen, not any failure (a false alarm is not a catch).
  std::string evidence;
};

const std::vector<Plant>& Plants() {
  static const std::vector<Plant> plants = {
      {"replication.ack_before_peer_persisted", "R3", "pair-durable",
       "a critical write acknowledged before the pair peer has it", 3, "that its peer"},
      {"replication.accept_write_in_restricted_mode", "R3", "restricted",
       "a critical write accepted while the node is restricted", 1,
       "and answered a critical write with"},
      {"storage.enable_expired_node", "R6", "expired-refused",
       "an EXPIRED node enabled, its stale data merged", 1, "was answered OK"},
      // A kill -9 leaves the kernel's page cache intact, so a skipped fsync
      // loses nothing on a real process; the simulation's crash drops
      // unsynced writes, as a power cut would.
      {"group_commit.skip_fsync", "sim", "simulation",
       "group commit acknowledges without fsync (lost on a power cut)", 1, ""},
  };
  return plants;
}

ScenarioResult RunPlantedBugs(const Scenario& scenario, const RunOptions& options) {
  ScenarioResult result;
  result.name = scenario.name;
  result.title = scenario.title;
  Check caught{"planted-caught"};
  int n = 0;
  for (const Plant& plant : Plants()) {
    bool failed_as_expected = false;
    std::string seen;
    if (plant.scenario == "sim") {
      // Seeds until one catches it (the simulation's own planted test does
      // the same); at most 20.
      for (uint64_t seed = options.seed; seed < options.seed + 20 && !failed_as_expected; ++seed) {
        sim::SimOptions sim_options;
        sim_options.seed = seed;
        sim_options.plant = plant.point;
        sim::SimResult r = sim::RunSimulation(sim_options);
        if (!r.ok && !r.violations.empty()) {
          failed_as_expected = true;
          seen = "seed " + std::to_string(seed) + ": " + r.violations.front();
        }
      }
    } else {
      RunOptions run = options;
      run.planted = plant.point;
      // R3 reaches its third variant (the sender heard by none) at iteration 3.
      run.iterations = std::max(options.iterations, plant.iterations);
      run.report_dir = options.report_dir.empty() ? "" : options.report_dir + "/" + plant.point;
      const Scenario* target = FindScenario(plant.scenario);
      ScenarioResult r = RunOnCluster(*target, run);
      for (const Check& c : r.checks) {
        if (c.name != plant.check) continue;
        for (const auto& failure : c.failures) {
          if (failure.find(plant.evidence) == std::string::npos) continue;
          failed_as_expected = true;
          seen = failure;
        }
      }
      if (!r.error.empty()) seen = "the run could not be carried out: " + r.error;
    }
    ++n;
    result.figures.emplace_back(plant.point,
                                std::string(failed_as_expected ? "caught by " : "MISSED by ") +
                                    plant.scenario + " (" + plant.check + ")");
    if (options.progress) {
      options.progress("R11: " + plant.point + (failed_as_expected ? " caught: " : " MISSED") +
                       seen);
    }
    if (!failed_as_expected) {
      caught.Fail(plant.point + " (" + plant.why + ") did not turn " + plant.scenario + "'s " +
                  plant.check + " check FAIL" + (seen.empty() ? "" : ": " + seen));
    }
  }
  caught.figures = std::to_string(n) + " planted bugs, each run with its scenario";
  result.checks.push_back(caught);
  result.pass = caught.pass;
  return result;
}

}  // namespace

std::vector<Scenario> PlantedScenarios() {
  return {
      {.name = "R10",
       .title = "the deterministic simulation, N seeds (--iterations = seeds)",
       .default_iterations = 20,
       .custom = RunSimulationSeeds,
       .attachable = true},  // no cluster at all
      {.name = "R11",
       .title = "planted bugs (fault points) each caught by the checkers",
       .default_iterations = 1,
       .custom = RunPlantedBugs,
       .unavailable = [](const RunOptions&) -> std::string {
         return fault::Enabled() ? "" : "planted bugs need a build with fault points (dev or asan)";
       }},
  };
}

}  // namespace coffer::chaos
