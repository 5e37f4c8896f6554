// `coffer-chaos run --local DIR`: scenarios driving a running cluster they
// did not start. The cluster here is a ChaosCluster moved under a
// LocalSupervisor (the layout scripts/start-local.sh makes: NAME.toml,
// NAME.pid, NAME.binary), with the admin credentials in DIR/certs/ as that
// script keeps them.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/chaos/report.h"
#include "tests/chaos/scenario.h"

namespace coffer::chaos {
namespace {

TEST(ChaosAttach, ScenariosRunTwiceOnALocalClusterAndLeaveItRunning) {
  History owner_history;
  ClusterOptions shape;
  shape.pairs = 1;
  shape.read_only = 1;
  auto owner = ChaosCluster::Start(shape, &owner_history);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  ChaosCluster& cluster = **owner;
  ASSERT_TRUE(cluster.Supervise(COFFER_BIN).ok());
  const std::string dir = cluster.supervised_dir();
  std::filesystem::create_directories(dir + "/certs");
  for (const char* file : {"ca.pem", "admin.pem", "admin.key"}) {
    std::filesystem::copy_file(cluster.dir() + "/" + file, dir + "/certs/" + file);
  }

  RunOptions options;
  options.local_dir = dir;
  options.iterations = 1;
  options.duration = 1;
  options.clients = 2;
  // Twice with the same seed: the second run's objects and request ids must
  // not be taken for the first run's (each run tags its own).
  for (int run = 1; run <= 2; ++run) {
    ScenarioResult result = RunScenario(*FindScenario("R1"), options);
    ASSERT_TRUE(result.pass) << "run " << run << ":\n" << FormatResult(result);
  }
  // Left running: the killed node restarted under the supervisor.
  EXPECT_TRUE(cluster.WaitHealthy(std::chrono::seconds(30)));
  for (size_t i = 0; i < cluster.size(); ++i) EXPECT_TRUE(cluster.Running(i)) << cluster.name(i);

  // A scenario that needs the harness's own cluster says so and runs nothing.
  ScenarioResult cut = RunScenario(*FindScenario("R3"), options);
  EXPECT_TRUE(cut.skipped);
  EXPECT_NE(cut.error.find("--local"), std::string::npos) << cut.error;

  // Not a local cluster's directory: a clear error, nothing run.
  options.local_dir = cluster.dir();
  ScenarioResult wrong = RunScenario(*FindScenario("R1"), options);
  EXPECT_FALSE(wrong.pass);
  EXPECT_NE(wrong.error.find("certs/ca.pem is missing"), std::string::npos) << wrong.error;
}

}  // namespace
}  // namespace coffer::chaos
