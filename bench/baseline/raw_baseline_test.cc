// The raw RocksDB baseline of coffer-bench: a short run on a temp dir.
#include "bench/baseline/raw_baseline.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/test_util.h"

namespace coffer::bench {
namespace {

using std::chrono::milliseconds;

TEST(RawBaseline, TwoInstancesForOneSecond) {
  storage::testing::TempDir dir;
  RawBaselineOptions options;
  options.instances = 2;
  options.work_dir = dir.path();
  options.shape.clients = 4;
  options.shape.warmup = milliseconds(200);
  options.shape.duration = milliseconds(1000);
  auto result = RunRawBaseline(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->system, "raw");
  EXPECT_EQ(result->workload, "write");
  EXPECT_GT(result->ok_ops, 0u);
  EXPECT_TRUE(result->errors.empty());
  EXPECT_EQ(result->latencies_us.size(), result->ok_ops);
  EXPECT_NEAR(result->seconds, 1.0, 0.3);
  // Every op is one record on each of the two instances; records written
  // at the window's edges make the two differ a little.
  double ops = result->OpsPerSecond();
  EXPECT_NEAR(result->records_applied_per_second, 2 * ops, 0.1 * 2 * ops + 20);
  ASSERT_EQ(result->processes.size(), 1u);
  EXPECT_GT(result->processes[0].cpu_seconds, 0);
  EXPECT_GT(result->processes[0].rss_max_bytes, 0u);
  // The instances are removed after the run.
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/raw-0"));
}

TEST(RawBaseline, MaxOpsEndsTheWindowEarly) {
  storage::testing::TempDir dir;
  RawBaselineOptions options;
  options.instances = 3;
  options.work_dir = dir.path();
  options.shape.clients = 2;
  options.shape.in_flight = 2;
  options.shape.warmup = milliseconds(0);
  options.shape.duration = milliseconds(15000);
  options.shape.max_ops = 40;
  auto result = RunRawBaseline(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->ok_ops, 40u);
  EXPECT_LT(result->seconds, 10.0);
}

TEST(RawBaseline, BadOptionsAreRefused) {
  storage::testing::TempDir dir;
  RawBaselineOptions options;
  options.work_dir = dir.path();
  options.instances = 0;
  EXPECT_EQ(RunRawBaseline(options).status().code(), Code::kInvalidArgument);
  options.instances = 1;
  options.shape.clients = 0;
  EXPECT_EQ(RunRawBaseline(options).status().code(), Code::kInvalidArgument);
  options.shape.clients = 1;
  options.work_dir.clear();
  EXPECT_EQ(RunRawBaseline(options).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::bench
