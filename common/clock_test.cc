#include "common/clock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/wait_for.h"

namespace coffer {
namespace {

TEST(OffsetFileClock, WallTimeMovesByTheFileAndMonotonicTimeDoesNot) {
  std::string path = "/tmp/coffer-clock-test-" + std::to_string(::getpid());
  std::remove(path.c_str());
  OffsetFileClock clock(path);
  SystemClock system;
  // No file: no offset.
  EXPECT_LT(std::llabs(clock.WallMicros() - system.WallMicros()), 1'000'000);
  std::ofstream(path) << "3600000000\n";
  EXPECT_TRUE(WaitFor([&] { return clock.WallMicros() - system.WallMicros() > 3'599'000'000; },
                      std::chrono::seconds(5), std::chrono::milliseconds(5)));
  EXPECT_LT(std::llabs(clock.MonotonicMicros() - system.MonotonicMicros()), 1'000'000);
  std::ofstream(path) << "-3600000000\n";
  EXPECT_TRUE(WaitFor([&] { return system.WallMicros() - clock.WallMicros() > 3'599'000'000; },
                      std::chrono::seconds(5), std::chrono::milliseconds(5)));
  // Garbage counts as no offset.
  std::ofstream(path) << "soon\n";
  EXPECT_TRUE(
      WaitFor([&] { return std::llabs(clock.WallMicros() - system.WallMicros()) < 1'000'000; },
              std::chrono::seconds(5), std::chrono::milliseconds(5)));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace coffer
