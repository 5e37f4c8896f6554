#include "common/fault_point.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace coffer::fault {
namespace {

bool Step(const char* name) { return COFFER_FAULT_POINT(name); }

TEST(FaultPoint, UnarmedPointIsQuiet) {
  EXPECT_FALSE(Step("test.unarmed"));
  EXPECT_EQ(Registry::Global().hits("test.unarmed"), 0u);
}

#ifdef COFFER_FAULT_POINTS

TEST(FaultPoint, ScopedArmingFailsTheStepAndDisarmsOnExit) {
  {
    ScopedFaultPoint armed("test.fail", {});
    EXPECT_TRUE(Step("test.fail"));
    EXPECT_TRUE(Step("test.fail"));
    EXPECT_FALSE(Step("test.other"));
    EXPECT_EQ(armed.hits(), 2u);
    EXPECT_EQ(armed.fires(), 2u);
  }
  EXPECT_FALSE(Step("test.fail"));
}

TEST(FaultPoint, SkipAndTimesPickTheExactHits) {
  ScopedFaultPoint armed("test.exact", {.skip = 2, .times = 2});
  std::vector<bool> fired;
  for (int i = 0; i < 6; ++i) fired.push_back(Step("test.exact"));
  EXPECT_EQ(fired, (std::vector<bool>{false, false, true, true, false, false}));
  EXPECT_EQ(armed.hits(), 6u);
  EXPECT_EQ(armed.fires(), 2u);
}

TEST(FaultPoint, ProbabilityIsDeterministicForASeed) {
  auto pattern = [](uint64_t seed) {
    ScopedFaultPoint armed("test.chance", {.probability = 0.5, .seed = seed});
    std::vector<bool> fired;
    for (int i = 0; i < 64; ++i) fired.push_back(Step("test.chance"));
    return fired;
  };
  std::vector<bool> first = pattern(7);
  EXPECT_EQ(first, pattern(7));
  EXPECT_NE(first, pattern(8));
  int fires = 0;
  for (bool f : first) fires += f ? 1 : 0;
  EXPECT_GT(fires, 10);
  EXPECT_LT(fires, 54);
}

TEST(FaultPoint, CallbackRunsAtTheStepAndDecidesItsValue) {
  int calls = 0;
  ScopedFaultPoint armed("test.callback",
                         {.action = Action::kCallback, .callback = [&] { return ++calls == 2; }});
  EXPECT_FALSE(Step("test.callback"));
  EXPECT_TRUE(Step("test.callback"));
  EXPECT_EQ(calls, 2);
}

TEST(FaultPoint, DelayWaitsThenLetsTheStepRun) {
  ScopedFaultPoint armed("test.delay", {.action = Action::kDelay, .delay_micros = 2000});
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(Step("test.delay"));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::microseconds(2000));
  EXPECT_EQ(armed.fires(), 1u);
}

TEST(FaultPointDeathTest, CrashEndsTheProcessWithItsExitCode) {
  EXPECT_EXIT(
      {
        ScopedFaultPoint armed("test.crash", {.action = Action::kCrash});
        Step("test.crash");
      },
      ::testing::ExitedWithCode(kCrashExitCode), "");
}

TEST(FaultPoint, ArmingFromManyThreadsCountsEveryHit) {
  ScopedFaultPoint armed("test.threads", {.times = 100});
  std::atomic<int> fired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) fired += Step("test.threads") ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(armed.hits(), 4000u);
  EXPECT_EQ(fired.load(), 100);
}

#else

TEST(FaultPoint, ReleaseBuildsCompileThePointsAway) {
  ScopedFaultPoint armed("test.release", {});
  EXPECT_FALSE(Step("test.release"));
  EXPECT_FALSE(Enabled());
}

#endif

TEST(FaultPoint, ArmFromSpecArmsEveryNameOrNone) {
  auto armed = ArmFromSpec(" test.spec_a , test.spec_b");
  ASSERT_TRUE(armed.ok()) << armed.status().ToString();
  EXPECT_EQ(*armed, (std::vector<std::string>{"test.spec_a", "test.spec_b"}));
  EXPECT_TRUE(COFFER_FAULT_POINT("test.spec_a"));
  EXPECT_TRUE(COFFER_FAULT_POINT("test.spec_b"));
  Registry::Global().Disarm("test.spec_a");
  Registry::Global().Disarm("test.spec_b");

  // An empty name anywhere arms nothing.
  auto bad = ArmFromSpec("test.spec_c,,test.spec_d");
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(COFFER_FAULT_POINT("test.spec_c"));
  EXPECT_EQ(ArmFromSpec(std::string(129, 'x')).status().code(), Code::kInvalidArgument);
  std::string many;
  for (int i = 0; i < 33; ++i) many += (i ? "," : "") + std::string("p") + std::to_string(i);
  EXPECT_EQ(ArmFromSpec(many).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::fault
