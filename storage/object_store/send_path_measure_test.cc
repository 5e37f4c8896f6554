// A measurement, not a check (DISABLED_: the suite skips it): the
// replication send path at the store level (issue 12, item 2). Run it on
// two builds to compare them:
//   build/dev/storage/coffer_storage_test --gtest_also_run_disabled_tests
//     --gtest_filter='SendPathMeasure.*'   (one command line)
// It prints the seconds spent in ReadLog and CollectLog. The file uses only
// APIs that main had before the change, so it builds on both.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "storage/object_store.h"
#include "storage/object_store/test_ops.h"
#include "storage/test_util.h"

namespace coffer::storage {
namespace {

// Two origins, as on a node of a pair: its own records (origin 1) and its
// peer's (origin 2, applied). Peers poll origin 1 when caught up (the reads
// that walked origin 2's GC tombstones in the profile).
TEST(SendPathMeasure, DISABLED_ReadLogUnderGcTwoOrigins) {
  testing::TempDir dir;
  auto a = testing::MakeNode(testing::Backend::kDisk, dir.path() + "/a", 1);
  auto b = testing::MakeNode(testing::Backend::kMemEnv, "/b", 2);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kRecords = 30000;
  double read_seconds = 0, gc_seconds = 0;
  uint64_t sent = 0, polls = 0;
  for (int i = 1; i <= kRecords; ++i) {
    ASSERT_TRUE(a->store
                    ->Execute(testing::Register(pb::SECRET_DATA, std::string(256, 'x')),
                              "a" + std::to_string(i), Durability::kAsync)
                    .ok());
    ASSERT_TRUE(b->store
                    ->Execute(testing::Register(pb::SECRET_DATA, std::string(256, 'y')),
                              "b" + std::to_string(i), Durability::kAsync)
                    .ok());
    auto remote = b->store->ReadLog(2, i, 1);
    ASSERT_TRUE(a->store->ApplyRemote(remote->at(0), Durability::kAsync).ok());
    if (i % 64 == 0) {
      auto t0 = std::chrono::steady_clock::now();
      for (int peer = 0; peer < 3; ++peer) {
        for (uint32_t origin : {1u, 2u}) {
          auto got = a->store->ReadLog(origin, i - 63, 256);
          ASSERT_EQ(got->size(), 64u);
          sent += got->size();
          for (int poll = 0; poll < 8; ++poll, ++polls) {
            ASSERT_TRUE(a->store->ReadLog(origin, i + 1, 256)->empty());
          }
        }
      }
      read_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (i % 1024 == 0) {
      auto t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(a->store->CollectLog(1, i - 64, 1 << 20).ok());
      ASSERT_TRUE(a->store->CollectLog(2, i - 64, 1 << 20).ok());
      gc_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  std::printf("MEASURE records=%d/origin sent=%llu polls=%llu read_total_s=%.3f gc_total_s=%.3f\n",
              kRecords, static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(polls), read_seconds, gc_seconds);
}

}  // namespace
}  // namespace coffer::storage
