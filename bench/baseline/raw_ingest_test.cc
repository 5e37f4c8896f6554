// The raw ingest rate of coffer-bench --catch-up: a small run on a temp dir.
#include "bench/baseline/raw_ingest.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/test_util.h"

namespace coffer::bench {
namespace {

TEST(RawIngest, WritesEveryRecordInSyncedBatches) {
  storage::testing::TempDir dir;
  RawIngestOptions options;
  options.records = 1000;
  options.value_size = 256;
  options.batch_records = 256;
  options.work_dir = dir.path();
  auto result = RunRawIngest(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->records, 1000u);
  EXPECT_EQ(result->batches, 4u);  // 256 + 256 + 256 + 232
  EXPECT_GT(result->seconds, 0);
  EXPECT_GT(result->RecordsPerSecond(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/ingest"));
}

TEST(RawIngest, RefusesEmptyWork) {
  storage::testing::TempDir dir;
  RawIngestOptions options;
  options.work_dir = dir.path();
  options.batch_records = 256;
  EXPECT_EQ(RunRawIngest(options).status().code(), Code::kInvalidArgument);  // no records
  options.records = 10;
  options.batch_records = 0;
  EXPECT_EQ(RunRawIngest(options).status().code(), Code::kInvalidArgument);
  options.batch_records = 256;
  options.work_dir.clear();
  EXPECT_EQ(RunRawIngest(options).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::bench
