#include "node/net/connection_slots.h"

#include <gtest/gtest.h>

namespace coffer::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

TEST(SlotTableTest, AdmitsWithinBothBudgets) {
  SlotTable table(SlotLimits{4, 2});
  EXPECT_TRUE(table.Admit(1, "10.0.0.1").admitted);
  EXPECT_TRUE(table.Admit(2, "10.0.0.2").admitted);
  SlotTable::Admission third = table.Admit(3, "10.0.0.1");
  EXPECT_TRUE(third.admitted);
  EXPECT_FALSE(third.evicted);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.CountFor("10.0.0.1"), 2u);
}

TEST(SlotTableTest, ASourceAtItsLimitReplacesItsOwnOldest) {
  SlotTable table(SlotLimits{10, 2});
  table.Admit(1, "a");
  table.Admit(2, "b");
  table.Admit(3, "a");
  SlotTable::Admission admission = table.Admit(4, "a");
  ASSERT_TRUE(admission.admitted);
  ASSERT_TRUE(admission.evicted);
  EXPECT_EQ(*admission.evicted, 1u);  // a's oldest, never b's
  EXPECT_EQ(admission.reason, "source at its limit");
  EXPECT_FALSE(table.Contains(1));
  EXPECT_TRUE(table.Contains(2));
  EXPECT_EQ(table.CountFor("a"), 2u);
}

TEST(SlotTableTest, AFullTableReplacesTheOldestOfTheHeaviestSource) {
  SlotTable table(SlotLimits{5, 4});
  table.Admit(1, "light");
  table.Admit(2, "heavy");
  table.Admit(3, "heavy");
  table.Admit(4, "heavy");
  table.Admit(5, "light");
  SlotTable::Admission admission = table.Admit(6, "newcomer");
  ASSERT_TRUE(admission.admitted);
  ASSERT_TRUE(admission.evicted);
  EXPECT_EQ(*admission.evicted, 2u);  // heavy's oldest, though light's 1 is older
  EXPECT_EQ(admission.reason, "listener at its limit");
  EXPECT_EQ(table.size(), 5u);
  EXPECT_TRUE(table.Contains(1));
}

TEST(SlotTableTest, AFloodNeverDisplacesAnotherSourcesHandshake) {
  // 2,000 connections from 20 flooding sources, and one client in between.
  SlotTable table(SlotLimits{64, 8});
  uint64_t id = 1;
  for (int i = 0; i < 1000; ++i) table.Admit(id++, "flood" + std::to_string(i % 20));
  const uint64_t client = id++;
  ASSERT_TRUE(table.Admit(client, "client").admitted);
  for (int i = 0; i < 1000; ++i) {
    SlotTable::Admission admission = table.Admit(id++, "flood" + std::to_string(i % 20));
    ASSERT_TRUE(admission.admitted);
    ASSERT_NE(admission.evicted, client);
  }
  EXPECT_TRUE(table.Contains(client));
  EXPECT_LE(table.size(), 64u);
}

TEST(SlotTableTest, OnlyEvictableEntriesAreReplaced) {
  SlotTable table(SlotLimits{2, 2});
  table.Admit(1, "a");
  table.Admit(2, "a");
  table.SetEvictable(1, false);
  table.SetEvictable(2, false);
  SlotTable::Admission refused = table.Admit(3, "a");
  EXPECT_FALSE(refused.admitted);
  EXPECT_FALSE(refused.evicted);
  EXPECT_EQ(refused.reason, "source at its limit");
  EXPECT_FALSE(table.Contains(3));
  refused = table.Admit(4, "b");
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.reason, "listener at its limit");

  table.SetEvictable(2, true);
  SlotTable::Admission admission = table.Admit(5, "b");
  ASSERT_TRUE(admission.admitted);
  EXPECT_EQ(admission.evicted, 2u);
}

TEST(SlotTableTest, RemoveFreesThePlaceAndIgnoresUnknownIds) {
  SlotTable table(SlotLimits{1, 1});
  table.Admit(1, "a");
  table.Remove(1);
  table.Remove(1);
  table.Remove(99);
  table.SetEvictable(99, false);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.CountFor("a"), 0u);
  SlotTable::Admission admission = table.Admit(2, "b");
  EXPECT_TRUE(admission.admitted);
  EXPECT_FALSE(admission.evicted);
}

TEST(RateLimitedLogTest, OneLinePerIntervalCountingTheRest) {
  RateLimitedLog log(seconds(10));
  const steady_clock::time_point t0 = steady_clock::now();
  uint64_t suppressed = 99;
  EXPECT_TRUE(log.ShouldLog(t0, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 1; i <= 500; ++i) {
    EXPECT_FALSE(log.ShouldLog(t0 + milliseconds(i), &suppressed));
  }
  EXPECT_FALSE(log.ShouldLog(t0 + milliseconds(9999), &suppressed));
  EXPECT_TRUE(log.ShouldLog(t0 + seconds(10), &suppressed));
  EXPECT_EQ(suppressed, 501u);
  EXPECT_EQ(log.written(), 2u);
  EXPECT_EQ(log.suppressed_total(), 501u);
}

TEST(RateLimitedLogTest, ZeroIntervalLogsEveryEvent) {
  RateLimitedLog log(milliseconds(0));
  uint64_t suppressed = 0;
  const steady_clock::time_point t0 = steady_clock::now();
  EXPECT_TRUE(log.ShouldLog(t0, &suppressed));
  EXPECT_TRUE(log.ShouldLog(t0, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace coffer::node
