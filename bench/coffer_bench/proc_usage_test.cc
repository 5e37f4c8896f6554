#include "bench/coffer_bench/proc_usage.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace coffer::bench {
namespace {

TEST(ProcUsage, ParsesUtimePlusStimeAfterTheCommand) {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime stime ...
  const std::string stat = "123 (coffer node) S 1 123 123 0 -1 4194560 10 0 0 0 250 75 0 0 20 0";
  EXPECT_EQ(CpuTicksFromStat(stat), 325u);
  // A command name holding ") " does not shift the fields.
  EXPECT_EQ(CpuTicksFromStat("9 (a) b) R 1 9 9 0 -1 0 0 0 0 0 7 8 0"), 15u);
  EXPECT_EQ(CpuTicksFromStat("garbage"), std::nullopt);
  EXPECT_EQ(CpuTicksFromStat("1 (x) S 1 2"), std::nullopt);
}

TEST(ProcUsage, ReadsThisProcess) {
  EXPECT_TRUE(CpuSeconds(::getpid()).has_value());
  auto rss = RssBytes(::getpid());
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 1024u * 1024u);
  EXPECT_EQ(CpuSeconds(-1), std::nullopt);
  EXPECT_EQ(RssBytes(0), std::nullopt);
}

TEST(ProcUsage, RssSampleIntervalIsATenthOfTheWindowAtLeastOneSecond) {
  using std::chrono::milliseconds;
  EXPECT_EQ(RssSampleInterval(std::chrono::minutes(10)), std::chrono::minutes(1));
  EXPECT_EQ(RssSampleInterval(std::chrono::seconds(30)), std::chrono::seconds(3));
  EXPECT_EQ(RssSampleInterval(std::chrono::seconds(2)), std::chrono::seconds(1));
  EXPECT_EQ(RssSampleInterval(milliseconds(0)), std::chrono::seconds(1));
}

}  // namespace
}  // namespace coffer::bench
