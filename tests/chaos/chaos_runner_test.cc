// The runner's pure parts: the scenario list, replay commands, and a result
// through JSON and text.
#include <gtest/gtest.h>

#include <set>

#include "tests/chaos/report.h"
#include "tests/chaos/scenario.h"

namespace coffer::chaos {
namespace {

TEST(ChaosScenarios, ListedOnceInOrderAndFoundByEitherCase) {
  std::vector<int> numbers;
  std::set<std::string> names;
  for (const auto& s : Scenarios()) {
    numbers.push_back(std::stoi(s.name.substr(1)));
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_TRUE(s.custom || s.fault) << s.name << " has nothing to run";
    EXPECT_FALSE(s.title.empty());
  }
  EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end()));
  ASSERT_NE(FindScenario("r3"), nullptr);
  EXPECT_EQ(FindScenario("r3")->name, "R3");
  EXPECT_EQ(FindScenario("R99"), nullptr);
}

TEST(ChaosScenarios, ReplayCommandCarriesEveryOptionThatChangesTheRun) {
  RunOptions options;
  options.seed = 42;
  EXPECT_EQ(ReplayCommand("R1", options), "coffer-chaos run R1 --seed 42");
  options.iterations = 7;
  options.pairs = 3;
  options.read_only = 0;
  options.planted = "replication.ack_before_peer_persisted";
  EXPECT_EQ(ReplayCommand("R3", options),
            "coffer-chaos run R3 --seed 42 --iterations 7 --pairs 3 --read-only 0 "
            "--plant replication.ack_before_peer_persisted");
  RunOptions local;
  local.local_dir = ".cluster";
  EXPECT_EQ(ReplayCommand("R1", local), "coffer-chaos run R1 --seed 1 --local .cluster");
}

TEST(ChaosScenarios, OnlyProcessScenariosAndTheSimulationRunOnALocalCluster) {
  std::set<std::string> attachable;
  for (const auto& s : Scenarios()) {
    if (s.attachable) attachable.insert(s.name);
  }
  EXPECT_EQ(attachable, (std::set<std::string>{"R1", "R2", "R5", "R10"}));
}

ScenarioResult SampleResult() {
  ScenarioResult r;
  r.name = "R1";
  r.title = "kill -9";
  r.pass = false;
  r.seconds = 12.5;
  r.replay = "coffer-chaos run R1 --seed 3";
  Check ok("convergence");
  ok.figures = "5 nodes converged 0.40 s after healing";
  Check lost("no-lost-ack");
  lost.Fail("node2 lacks register u1");
  r.checks = {ok, lost};
  r.figures = {{"iterations", "3"}};
  return r;
}

TEST(ChaosReport, ResultSurvivesJson) {
  ScenarioResult r = SampleResult();
  auto back = ScenarioResultFromJson(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "R1");
  EXPECT_FALSE(back->pass);
  ASSERT_EQ(back->checks.size(), 2u);
  EXPECT_FALSE(back->checks[1].pass);
  EXPECT_EQ(back->checks[1].failures, std::vector<std::string>{"node2 lacks register u1"});
  EXPECT_EQ(back->figures, r.figures);
  EXPECT_EQ(back->replay, r.replay);
}

TEST(ChaosReport, MalformedResultJsonIsAnErrorNotACrash) {
  auto json = ToJson(SampleResult());
  json.erase("checks");
  EXPECT_EQ(ScenarioResultFromJson(json).status().code(), Code::kInvalidArgument);
  json = ToJson(SampleResult());
  json["pass"] = "yes";
  EXPECT_EQ(ScenarioResultFromJson(json).status().code(), Code::kInvalidArgument);
}

TEST(ChaosReport, TextNamesEveryCheckAndTheReplayOfAFailure) {
  std::string text = FormatResult(SampleResult());
  EXPECT_NE(text.find("R1 FAIL"), std::string::npos) << text;
  EXPECT_NE(text.find("PASS  convergence"), std::string::npos) << text;
  EXPECT_NE(text.find("FAIL  no-lost-ack"), std::string::npos) << text;
  EXPECT_NE(text.find("- node2 lacks register u1"), std::string::npos) << text;
  EXPECT_NE(text.find("replay: coffer-chaos run R1 --seed 3"), std::string::npos) << text;
  ScenarioResult passed = SampleResult();
  passed.pass = true;
  passed.checks.pop_back();
  EXPECT_EQ(FormatResult(passed).find("replay:"), std::string::npos);
}

TEST(ChaosCheck, KeepsTheFirstFailuresOnly) {
  Check c("x");
  for (int i = 0; i < 50; ++i) c.Fail("failure " + std::to_string(i));
  EXPECT_FALSE(c.pass);
  EXPECT_EQ(c.failures.size(), Check::kMaxFailures);
  EXPECT_EQ(c.failures.front(), "failure 0");
}

}  // namespace
}  // namespace coffer::chaos
