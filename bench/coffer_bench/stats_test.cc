#include "bench/coffer_bench/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace coffer::bench {
namespace {

TEST(BenchStats, EmptySamplesGiveZeros) {
  const Percentiles p = Summarize({});
  EXPECT_EQ(p.count, 0u);
  EXPECT_EQ(p.p50, 0u);
  EXPECT_EQ(p.max, 0u);
  EXPECT_EQ(NearestRank({}, 0.5), 0u);
}

TEST(BenchStats, OneSampleIsEveryPercentile) {
  const Percentiles p = Summarize({42});
  EXPECT_EQ(p.count, 1u);
  EXPECT_EQ(p.p50, 42u);
  EXPECT_EQ(p.p999, 42u);
  EXPECT_EQ(p.max, 42u);
  EXPECT_DOUBLE_EQ(p.mean, 42.0);
}

TEST(BenchStats, NearestRankOnOneToHundred) {
  std::vector<uint32_t> samples(100);
  std::iota(samples.begin(), samples.end(), 1);  // 1..100
  std::shuffle(samples.begin(), samples.end(), std::mt19937(7));
  const Percentiles p = Summarize(samples);
  EXPECT_EQ(p.count, 100u);
  EXPECT_EQ(p.p50, 50u);  // ceil(0.5 * 100) = 50th smallest
  EXPECT_EQ(p.p90, 90u);
  EXPECT_EQ(p.p99, 99u);
  EXPECT_EQ(p.p999, 100u);  // ceil(99.9) = 100th
  EXPECT_EQ(p.max, 100u);
  EXPECT_DOUBLE_EQ(p.mean, 50.5);
}

TEST(BenchStats, RanksRoundUpAndAreMeasuredValues) {
  const std::vector<uint32_t> sorted = {10, 20, 30};
  EXPECT_EQ(NearestRank(sorted, 0.5), 20u);   // ceil(1.5) = 2nd
  EXPECT_EQ(NearestRank(sorted, 0.34), 20u);  // ceil(1.02) = 2nd
  EXPECT_EQ(NearestRank(sorted, 0.33), 10u);  // ceil(0.99) = 1st
  EXPECT_EQ(NearestRank(sorted, 1.0), 30u);
  EXPECT_EQ(NearestRank(sorted, 0.0), 10u);  // clamped to the first
}

TEST(BenchStats, TailIsTheSlowOutlier) {
  std::vector<uint32_t> samples(1000, 100);
  samples[17] = 90000;
  const Percentiles p = Summarize(samples);
  EXPECT_EQ(p.p99, 100u);
  EXPECT_EQ(p.p999, 100u);  // the 999th of 1000 is still fast
  EXPECT_EQ(p.max, 90000u);
  samples[18] = 80000;
  EXPECT_EQ(Summarize(samples).p999, 80000u);  // two outliers: the 999th is one
  EXPECT_EQ(samples[17], 90000u);              // the caller's samples are not reordered
}

}  // namespace
}  // namespace coffer::bench
